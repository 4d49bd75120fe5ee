// The arguments of each management method (docs/management.md), checked by hand: a handful of fields is not
// worth loading zod into the core. Ranges and module fields are checked by the manifest checks themselves
// when a change is validated, so those errors read the same as at start.
import type { LogLevel } from '../sdk/log.js'
import { OutpostError } from '../errors.js'
import { describeValue } from '../manifest/errors.js'

/** A kind of value: how to recognise it, and what a problem says was expected. */
interface Kind<T> {
  is: (value: unknown) => value is T
  expected: string
}

const text: Kind<string> = { is: (v): v is string => typeof v === 'string' && v !== '', expected: 'a non-empty text' }
const boolean: Kind<boolean> = { is: (v): v is boolean => typeof v === 'boolean', expected: 'true or false' }
const number: Kind<number> = { is: (v): v is number => Number.isFinite(v), expected: 'a number' }
/** a JSON object (CBOR map); not an array, null or a class instance */
const map: Kind<Record<string, unknown>> = {
  is: (v): v is Record<string, unknown> => typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v)),
  expected: 'a map',
}

function orNull<T> (kind: Kind<T>): Kind<T | null> {
  return { is: (v): v is T | null => v === null || kind.is(v), expected: `${kind.expected} or null` }
}

function wholeNumber (min: number, max = Number.MAX_SAFE_INTEGER): Kind<number> {
  return {
    is: (v): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max,
    expected: max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`,
  }
}

function oneOf<T extends string> (values: readonly T[]): Kind<T> {
  return { is: (v): v is T => values.includes(v as T), expected: `one of ${values.map(v => JSON.stringify(v)).join(', ')}` }
}

export interface ArgsReader {
  /** the field, noting a problem unless it is of its kind */
  required<T> (key: string, kind: Kind<T>): T
  /** the field or undefined when absent, noting a problem unless it is of its kind */
  optional<T> (key: string, kind: Kind<T>): T | undefined
  /** notes a problem unless `value` (found at `path`) is of its kind */
  check<T> (path: string, kind: Kind<T>, value: unknown): value is T
  problem (path: string, message: string): void
}

export const moduleArgs = (a: ArgsReader) => ({ module: a.required('module', text) })

export const addArgs = (a: ArgsReader) => {
  /** a module entry exactly as in the manifest's `modules` */
  const spec = a.required('spec', map)
  if (map.is(spec)) a.check('spec.name', text, spec.name)
  return {
    spec: spec as Record<string, unknown> & { name: string },
    /** start it now (default: when enabled) */
    start: a.optional('start', boolean),
  }
}

export const configureArgs = (a: ArgsReader) => {
  const args = {
    module: a.required('module', text),
    /** JSON merge patch (RFC 7386) on the module's config: keys set, null deletes */
    config: a.optional('config', map),
    /** MiB per instance; null: back to the gateway default */
    memoryMiB: a.optional('memoryMiB', orNull(number)),
    instances: a.optional('instances', number),
    /** JSON merge patch on the module's restart policy; null: back to the gateway defaults */
    restart: a.optional('restart', orNull(map)),
    enabled: a.optional('enabled', boolean),
  }
  const { module: _module, ...changes } = args
  if (Object.values(changes).every(v => v === undefined)) a.problem('args', 'nothing to change: give at least one of config, memoryMiB, instances, restart, enabled')
  return args
}

export const updateArgs = (a: ArgsReader) => ({
  /** the bundle: https://, or http:// on this machine's loopback */
  url: a.required('url', text),
  /** the bundle's signature (the JSON of <bundle>.sig); default: downloaded from <url>.sig */
  signature: a.optional('signature', map),
  /** update this module's program alone, from a module bundle; absent: the whole release */
  module: a.optional('module', text),
})

export const logsArgs = (a: ArgsReader) => ({
  module: a.optional('module', text),
  lines: a.optional('lines', wholeNumber(1, 1000)) ?? 100,
  since: a.optional('since', wholeNumber(0)),
  level: a.optional('level', oneOf<LogLevel>(['error', 'warn', 'info', 'debug'])),
})

/** The arguments `read` takes from `args`, or BAD_ARGUMENTS naming the method and every problem (unknown keys too). */
export function parseArgs<T> (method: string, read: (a: ArgsReader) => T, args: unknown): T {
  const problems: string[] = []
  const given = args ?? {}
  const fields: Record<string, unknown> = map.is(given) ? given : {}
  const taken = new Set<string>()
  const reader: ArgsReader = {
    required: <K>(key: string, kind: Kind<K>): K => {
      taken.add(key)
      reader.check(key, kind, fields[key])
      // a wrong value is returned as it is: parseArgs throws before anyone uses it
      return fields[key] as K
    },
    optional: (key, kind) => {
      taken.add(key)
      return fields[key] === undefined ? undefined : reader.required(key, kind)
    },
    check: <K>(path: string, kind: Kind<K>, value: unknown): value is K => {
      if (kind.is(value)) return true
      reader.problem(path, `expected ${kind.expected}, found ${describeValue(value)}`)
      return false
    },
    problem: (path, message) => { problems.push(`${path}: ${message}`) },
  }
  if (reader.check('args', map, given)) {
    const result = read(reader)
    const unknown = Object.keys(fields).filter(key => !taken.has(key))
    if (unknown.length > 0) reader.problem('args', `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map(k => JSON.stringify(k)).join(', ')}`)
    if (problems.length === 0) return result
  }
  throw new OutpostError('BAD_ARGUMENTS', `core.${method}: ${problems.join('; ')}`, { details: { problems } })
}
