// What the tracing store's list and add cost with the store at its bound (modules/tracing/store.ts), before
// its index (the scanning store, test/tracing/reference-store.ts) and after, in one process: list for each
// filter at the default and the largest limit, add per span with the store full (each add evicts), and the
// heap each store holds per span. Traces of five spans in three modules, one in twenty failed, arriving as
// they end (a child before its parent), so starts come nearly in time order. Timed in loops, alternating
// between the stores; each figure is the median of the passes, in CPU time (other processes share the machine).
// Run: `npm run build && node --expose-gc build/bench/tracing-store.js` (not part of `npm run bench`).
import { createTraceStore } from '../modules/tracing/store.js'
import type { StoreLimits, StoredSpan, TraceStore } from '../modules/tracing/store.js'
import { createReferenceStore } from '../test/tracing/reference-store.js'
import { median } from './lib/stats.js'

const SIZES = [10_000, 100_000]
const PASSES = 5
/** how long one timed pass runs, at least */
const PASS_MS = 30
/** spans added per pass of the add timing */
const ADDS = 20_000
const FILTERS: Array<{ label: string, module?: string, errorsOnly?: boolean }> = [
  { label: 'all' },
  { label: 'module', module: 'logger' },
  { label: 'errorsOnly', errorsOnly: true },
  { label: 'module, errorsOnly', module: 'sensor', errorsOnly: true },
]
const LIMITS = [50, 500]

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, '0')

/** the spans of traces from `first` on, trace by trace, each's spans in the order they end */
function * spans (first: number, remoteParent: boolean): Generator<{ trace: string, span: StoredSpan }> {
  for (let t = first; ; t++) {
    const trace = hex(t, 32)
    const start = 1_700_000_000_000 + t * 0.5
    const failed = t % 20 === 0
    const id = (n: number): string => hex(t * 8 + n, 16)
    const span = (n: number, parent: string | null, module: string, kind: StoredSpan['kind'], name: string, offset: number, durationMs: number, code: string | null): StoredSpan =>
      ({ span: id(n), parent, module, instance: 0, kind, name, start: start + offset, durationMs, outcome: code === null ? 'ok' : 'error', code })
    // a remote parent: the trace's root is in another process, so no span of it lacks a parent
    const rootParent = remoteParent ? hex(t, 16) : null
    yield { trace, span: span(4, id(3), 'logger', 'hook-handle', 'sensor/reading', 0.3, 0.02, null) }
    yield { trace, span: span(3, id(2), 'sensor', 'hook-emit', 'sensor/reading', 0.2, 0, null) }
    yield { trace, span: span(2, id(1), 'sensor', 'rpc-server', 'get', 0.1, 0.3, failed ? 'TIMEOUT' : null) }
    yield { trace, span: span(1, id(0), 'gateway', 'rpc-client', 'sensor.get', 0.05, 0.4, failed ? 'TIMEOUT' : null) }
    yield { trace, span: span(0, rootParent, 'gateway', 'rpc-server', 'read', 0, 0.5, null) }
  }
}

function fill (store: TraceStore, source: Generator<{ trace: string, span: StoredSpan }>, count: number): void {
  for (let i = 0; i < count; i++) {
    const { trace, span } = source.next().value as { trace: string, span: StoredSpan }
    store.add(trace, span)
  }
}

/** CPU µs per call of `fn`, over `calls` calls */
function usPerCall (fn: () => void, calls: number): number {
  const start = process.cpuUsage()
  for (let i = 0; i < calls; i++) fn()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / calls
}

/** calls per pass, so that one lasts PASS_MS or more */
function calibrate (fn: () => void): number {
  const once = usPerCall(fn, 10)
  return Math.max(1, Math.ceil((PASS_MS * 1000) / Math.max(once, 0.01)))
}

/** the median µs per call of each of `fns`, alternating between them pass by pass */
function timed (fns: Array<() => void>): number[] {
  const calls = fns.map(calibrate)
  const times: number[][] = fns.map(() => [])
  for (let pass = 0; pass < PASSES; pass++) fns.forEach((fn, i) => times[i]?.push(usPerCall(fn, calls[i] ?? 1)))
  return times.map(median)
}

const gc = (globalThis as { gc?: () => void }).gc
const heap = (): number => {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

/**
 * the stores measured, kept until all are: a store let go could still be reachable from a stale slot of the
 * stack for a while, and be freed in the next one's measurement
 */
const measured: TraceStore[] = []

/** heap bytes per span a store holds, full */
function bytesPerSpan (create: (limits: StoreLimits) => TraceStore, maxSpans: number, remoteParent: boolean): number {
  const before = heap()
  const store = create({ maxSpans, maxBytes: 1 << 30, maxSpansPerTrace: 1000 })
  measured.push(store)
  fill(store, spans(0, remoteParent), maxSpans * 1.2)
  return (heap() - before) / store.counters().spans
}

const row = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`
const fixed = (n: number): string => n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)

/** heap bytes per span kept of each store, built one after the other with nothing else held */
const heapRows: string[] = []
if (gc !== undefined) {
  // once unmeasured: the first store built also pays for compiling the code
  bytesPerSpan(createReferenceStore, 1000, false)
  bytesPerSpan(createTraceStore, 1000, false)
  for (const size of SIZES) {
    for (const remoteParent of [false, true]) {
      const b = bytesPerSpan(createReferenceStore, size, remoteParent)
      const a = bytesPerSpan(createTraceStore, size, remoteParent)
      heapRows.push(row([size, `heap per span kept, ${remoteParent ? 'roots in another process' : 'roots arrived'} (bytes)`, fixed(b), fixed(a), `${a >= b ? '+' : ''}${fixed(a - b)}`]))
    }
  }
  measured.length = 0
}

const lines = [row(['spans', 'what', 'before', 'after', 'before / after']), row(['---:', '---', '---:', '---:', '---:'])]
/** the rows of list at `size` spans, both stores full */
function listRows (size: number): string[] {
  const rows: string[] = []
  const limits: StoreLimits = { maxSpans: size, maxBytes: 1 << 30, maxSpansPerTrace: 1000 }
  const before = createReferenceStore(limits)
  const after = createTraceStore(limits)
  fill(before, spans(0, false), size * 1.2)
  fill(after, spans(0, false), size * 1.2)
  for (const filter of FILTERS) {
    for (const limit of LIMITS) {
      const options = { limit, ...filter }
      const [b = 0, a = 0] = timed([() => before.list(options), () => after.list(options)])
      if (JSON.stringify(before.list(options)) !== JSON.stringify(after.list(options))) throw new Error(`list ${filter.label} ${limit}: the answers differ`)
      rows.push(row([size, `list ${filter.label}, limit ${limit} (µs)`, fixed(b), fixed(a), `${fixed(b / a)}×`]))
    }
  }
  return rows
}

/**
 * CPU ns per span added to a store of `create` filled past `size` spans, so that each add evicts: the store
 * alone in the heap, so that neither store's collections are charged to the other
 */
function addNs (create: (limits: StoreLimits) => TraceStore, size: number): number {
  const store = create({ maxSpans: size, maxBytes: 1 << 30, maxSpansPerTrace: 1000 })
  const source = spans(0, false)
  fill(store, source, size * 1.2)
  heap()
  return usPerCall(() => fill(store, source, ADDS), 1) * 1000 / ADDS
}

for (const size of SIZES) {
  lines.push(...listRows(size))
  const adds: [number[], number[]] = [[], []]
  for (let pass = 0; pass < PASSES; pass++) {
    adds[0].push(addNs(createReferenceStore, size))
    adds[1].push(addNs(createTraceStore, size))
  }
  lines.push(row([size, 'add, per span, store full (ns)', fixed(median(adds[0])), fixed(median(adds[1])), `${fixed(median(adds[0]) / median(adds[1]))}×`]))
}
lines.push(...heapRows)
if (gc === undefined) lines.push('', 'heap per span: run with --expose-gc')
process.stdout.write(`${lines.join('\n')}\n`)
