// `outpost add | rm | config`: changes that are written to the gateway's manifest.
import type { ModuleSummary } from '../management/describe.js'
import { gatewayCommand } from './command.js'
import type { Command } from './command.js'
import { UsageError } from './exit.js'
import { jsonText } from './format.js'
import { moduleArg } from './manage.js'
import { jsonOption, numberOption, parseJson } from './options.js'
import type { Parsed } from './options.js'

function list (text: unknown): string[] | undefined {
  return typeof text === 'string' ? text.split(',').map(s => s.trim()).filter(s => s !== '') : undefined
}

function object (value: unknown, what: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${what} must be a JSON object`)
  return value as Record<string, unknown>
}

const add = gatewayCommand({
  usage: 'add <name> <entry> [options]  |  add <name> [options] -- <program> [args...]',
  summary: 'add a module from an entry on the gateway (drivers/<x>, modules/<x> or a .js path) or a program, and start it',
  options: {
    config: { type: 'string' },
    memory: { type: 'string' },
    instances: { type: 'string' },
    after: { type: 'string' },
    calls: { type: 'string' },
    restart: { type: 'string' },
    disabled: { type: 'boolean' },
    'no-start': { type: 'boolean' },
    spec: { type: 'string' },
  },
  async run (session, parsed, io) {
    const spec: Record<string, unknown> = object(jsonOption(parsed.values, 'spec'), '--spec') ?? {}
    const [name, entry, ...rest] = parsed.positionals
    if (name !== undefined) spec.name = name
    const dashes = parsed.argv.indexOf('--')
    if (dashes >= 0) spec.command = parsed.argv.slice(dashes + 1)
    else if (entry !== undefined) spec.entry = entry
    if (dashes < 0 && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`)
    if (typeof spec.name !== 'string') throw new UsageError('expected a module name')
    if (spec.entry === undefined && spec.command === undefined) throw new UsageError('expected an entry, or -- and a program')
    const config = object(jsonOption(parsed.values, 'config'), '--config')
    if (config !== undefined) spec.config = config
    const memory = numberOption(parsed.values, 'memory')
    if (memory !== undefined) spec.memoryMiB = memory
    const instances = numberOption(parsed.values, 'instances')
    if (instances !== undefined) spec.instances = instances
    const after = list(parsed.values.after)
    if (after !== undefined) spec.after = after
    if (parsed.values.calls === '*') spec.calls = '*'
    else if (parsed.values.calls !== undefined) spec.calls = list(parsed.values.calls)
    const restart = object(jsonOption(parsed.values, 'restart'), '--restart')
    if (restart !== undefined) spec.restart = restart
    if (parsed.values.disabled === true) spec.enabled = false
    const s = await session.call<ModuleSummary>('core', 'add', { spec, ...(parsed.values['no-start'] === true ? { start: false } : {}) })
    io.print(s, shown => `added ${shown.module}: ${io.style.state(shown.state)}\n`)
    return 0
  },
})

const rm = gatewayCommand({
  usage: 'rm <module>',
  summary: 'stop a module and remove it from the manifest',
  async run (session, parsed, io) {
    const result = await session.call<{ module: string }>('core', 'remove', { module: moduleArg(parsed) })
    io.print(result, shown => `removed ${shown.module}\n`)
    return 0
  },
})

/** `--set a.b=1` → { a: { b: 1 } }; the value is JSON when it parses, text otherwise */
function setPatch (assignments: string[], unset: string[]): Record<string, unknown> | undefined {
  if (assignments.length === 0 && unset.length === 0) return undefined
  const patch: Record<string, unknown> = {}
  const put = (path: string, value: unknown): void => {
    const keys = path.split('.')
    let node = patch
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>
    node[keys.at(-1) ?? path] = value
  }
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=')
    if (eq <= 0) throw new UsageError(`--set expects key=value, not "${assignment}"`)
    const text = assignment.slice(eq + 1)
    let value: unknown = text
    try {
      value = JSON.parse(text)
    } catch {
      // plain text
    }
    put(assignment.slice(0, eq), value)
  }
  for (const key of unset) put(key, null)
  return patch
}

function changesOf (parsed: Parsed): Record<string, unknown> {
  const v = parsed.values
  const args: Record<string, unknown> = {}
  const config = object(jsonOption(v, 'config'), '--config') ?? setPatch((v.set ?? []) as string[], (v.unset ?? []) as string[])
  if (config !== undefined) args.config = config
  if (v.memory === 'default') args.memoryMiB = null
  else if (v.memory !== undefined) args.memoryMiB = numberOption(v, 'memory')
  if (v.instances !== undefined) args.instances = numberOption(v, 'instances')
  if (v.restart === 'default') args.restart = null
  else if (v.restart !== undefined) args.restart = object(parseJson(v.restart as string, '--restart'), '--restart')
  if (v.enable === true && v.disable === true) throw new UsageError('--enable and --disable contradict each other')
  if (v.enable === true) args.enabled = true
  if (v.disable === true) args.enabled = false
  return args
}

const config = gatewayCommand({
  usage: 'config <module> [--set key=value]... [--unset key]... [--config <json>] [--memory <MiB|default>] [--instances <n>] [--restart <json|default>] [--enable|--disable]',
  summary: 'show a module\'s manifest entry, or change it (validated, written to the manifest, applied by restarting that module)',
  options: {
    set: { type: 'string', multiple: true },
    unset: { type: 'string', multiple: true },
    config: { type: 'string' },
    memory: { type: 'string' },
    instances: { type: 'string' },
    restart: { type: 'string' },
    enable: { type: 'boolean' },
    disable: { type: 'boolean' },
  },
  async run (session, parsed, io) {
    const module = moduleArg(parsed)
    const changes = changesOf(parsed)
    if (Object.keys(changes).length === 0) {
      const status = await session.call<{ spec: unknown }>('core', 'status', { module })
      io.out(jsonText(status.spec, true) + '\n')
      return 0
    }
    const s = await session.call<ModuleSummary>('core', 'configure', { module, ...changes })
    io.print(s, shown => `${shown.module}: changed (${Object.keys(changes).join(', ')}); ${io.style.state(shown.state)}\n`)
    return 0
  },
})

export const editCommands: Record<string, Command> = { add, rm, config }
