// Formats manifest problems as "<file>: <path>: <what was wrong and what was expected>".
import type { z } from 'zod'
import { OutpostError } from '../errors.js'
import type { ErrorCode } from '../errors.js'

export interface Problem {
  /** JSON path inside the file, e.g. modules[1].memoryMiB */
  path: string
  message: string
}

export function formatPath (segments: ReadonlyArray<PropertyKey>, root?: unknown): string {
  let out = ''
  let node: unknown = root
  for (const segment of segments) {
    if (typeof segment === 'number') {
      out += `[${segment}]`
      node = Array.isArray(node) ? node[segment] : undefined
      const name = (node as { name?: unknown } | undefined)?.name
      if (out.startsWith('modules') && out.indexOf(']') === out.length - 1 && typeof name === 'string') out += ` (${name})`
    } else {
      out += out === '' ? String(segment) : `.${String(segment)}`
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[String(segment)] : undefined
    }
  }
  return out === '' ? '(top level)' : out
}

/** How a problem names what it found: "the text \"64\"", "number 8", "nothing". */
export function describeValue (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

function valueAt (root: unknown, segments: ReadonlyArray<PropertyKey>): unknown {
  let node = root
  for (const segment of segments) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<PropertyKey, unknown>)[segment as string]
  }
  return node
}

/** Turns zod issues into problems that say what was expected and what was found. */
export function zodProblems (error: z.ZodError, input: unknown, prefix: ReadonlyArray<PropertyKey> = [], root: unknown = input): Problem[] {
  return error.issues.map(issue => {
    const segments = [...prefix, ...issue.path]
    let message = issue.message
    if (issue.code === 'invalid_type') message = `expected ${issue.expected}, found ${describeValue(valueAt(input, issue.path))}`
    else if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(k => JSON.stringify(k)).join(', ')}`
    else if (issue.code === 'invalid_value') message = `expected one of ${issue.values.map(v => JSON.stringify(v)).join(', ')}, found ${describeValue(valueAt(input, issue.path))}`
    else if (issue.code === 'too_small' || issue.code === 'too_big') message = `${issue.message}, found ${describeValue(valueAt(input, issue.path))}`
    return { path: formatPath(segments, root), message }
  })
}

export function manifestError (code: ErrorCode, file: string, problems: Problem[]): OutpostError {
  const lines = problems.map(p => `  ${file}: ${p.path}: ${p.message}`)
  return new OutpostError(code, `invalid manifest ${file}:\n${lines.join('\n')}`, { details: { file, problems } })
}
