// `outpost trace ls` and `outpost trace show <id>`: the traces the tracing module holds (docs/observability.md,
// "Tracing"), a table of recent traces and one trace's call tree with times.
import { gatewayCommand } from './command.js'
import type { Command, Io } from './command.js'
import { UsageError } from './exit.js'
import { clock, table } from './format.js'
import { numberOption } from './options.js'
// the tracing module's answers, in the store's own shapes (types only: nothing of the module loads here)
import type { StoredSpan as TraceSpan, TraceSummary } from '../../modules/tracing/store.js'

const TRACING = 'tracing'

export function ms (value: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '?'
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 1 ? `${value.toFixed(1)} ms` : `${value.toFixed(2)} ms`
}

/** The call tree: each span under its parent, siblings by start; a span whose parent is not in the trace is a root. */
export function tree (spans: TraceSpan[], io: Io): string {
  const ids = new Set(spans.map(s => s.span))
  const children = new Map<string | null, TraceSpan[]>()
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const parent = span.parent !== null && ids.has(span.parent) ? span.parent : null
    children.set(parent, [...(children.get(parent) ?? []), span])
  }
  const origin = Math.min(...spans.map(s => s.start))
  const lines: Array<{ label: string, time: string, error: string }> = []
  const walk = (parent: string | null, prefix: string, seen: Set<string>): void => {
    const list = children.get(parent) ?? []
    list.forEach((span, i) => {
      if (seen.has(span.span)) return // a span naming itself (or a loop) as its parent: printed once
      seen.add(span.span)
      const last = i === list.length - 1
      const branch = parent === null ? '' : last ? '└─ ' : '├─ '
      lines.push({
        label: `${prefix}${branch}${span.module}.${span.instance} ${io.style.paint(90, span.kind)} ${span.name}`,
        time: `${ms(span.durationMs)} at +${ms(span.start - origin)}`,
        error: span.code === null ? '' : io.style.paint(31, `✗ ${span.code}`),
      })
      walk(span.span, parent === null ? prefix : `${prefix}${last ? '   ' : '│  '}`, seen)
    })
  }
  const seen = new Set<string>()
  walk(null, '', seen)
  // spans whose parents form a loop reach no root: each is printed as one, with what hangs below it
  for (const span of spans) {
    if (seen.has(span.span)) continue
    children.set(null, [span])
    walk(null, '', seen)
  }
  return table(['SPAN', 'TIME', ''], lines.map(l => [l.label, l.time, l.error]), { style: io.style })
}

const ls = gatewayCommand({
  usage: 'trace ls [--module <module>] [--errors] [-n <count>]',
  summary: 'recent traces the tracing module holds, newest first',
  options: { module: { type: 'string' }, errors: { type: 'boolean' }, lines: { type: 'string', short: 'n' } },
  async run (session, parsed, io) {
    const [extra] = parsed.positionals
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
    const args: Record<string, unknown> = {}
    const limit = numberOption(parsed.values, 'lines')
    if (limit !== undefined) args.limit = limit
    if (typeof parsed.values.module === 'string') args.module = parsed.values.module
    if (parsed.values.errors === true) args.errorsOnly = true
    const list = await session.call<TraceSummary[]>(TRACING, 'list', args)
    io.print(list, shown => shown.length === 0
      ? 'no traces (is tracing on in the manifest, and the tracing module running?)\n'
      : table(['TRACE', 'START', 'DURATION', 'SPANS', 'ROOT', 'ERROR'], shown.map(t => [
        t.trace, clock(t.start), ms(t.durationMs), String(t.spans), `${t.root.module}.${t.root.method}`, t.error === null ? '' : io.style.paint(31, t.error),
      ]), { right: [2, 3], style: io.style }))
    return 0
  },
})

const show = gatewayCommand({
  usage: 'trace show <trace>',
  summary: 'one trace as a call tree: each span under its parent, with its duration and start offset; errors marked ✗',
  async run (session, parsed, io) {
    const [trace, extra] = parsed.positionals
    if (trace === undefined) throw new UsageError('which trace? (outpost trace ls lists them)')
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
    const found = await session.call<{ trace: string, spans: TraceSpan[], omitted?: number }>(TRACING, 'show', { trace: trace.toLowerCase() })
    io.print(found, shown => {
      const omitted = shown.omitted === undefined || shown.omitted === 0 ? '' : `(${shown.omitted} later span(s) left out: the answer's size limit)\n`
      return `trace ${shown.trace}: ${shown.spans.length} span(s)\n${tree(shown.spans, io)}${omitted}`
    })
    return 0
  },
})

const subcommands: Record<string, Command> = { ls, show }

export const trace: Command = {
  usage: 'trace ls|show …',
  summary: 'query tracking: recent traces (ls) and one trace\'s call tree (show <trace>)',
  async run (argv) {
    const [name, ...rest] = argv
    const sub = name === undefined ? undefined : subcommands[name]
    if (sub === undefined) {
      if (name === '--help' || name === '-h') {
        process.stdout.write(`usage:\n  outpost ${ls.usage}\n  outpost ${show.usage}\n`)
        return 0
      }
      throw new UsageError(name === undefined ? 'trace needs ls or show' : `unknown trace command "${name}" (ls or show)`)
    }
    return sub.run(rest)
  },
}
