// The tracing module's store: the spans of sampled traces, by trace, in memory, bounded by span count and
// estimated bytes (the oldest trace — the one whose first span arrived first — is evicted first) and by
// spans per trace. Any module may add spans to a trace whose id it knows, so one module holds at most half
// of a trace's spans and bytes and half of the store's: it can neither crowd a trace's real spans out nor
// flush the store alone, with few long spans or many short ones. Plain data in, plain data out: the RPC shapes of docs/observability.md.
// Each trace's summary is kept as its spans come (summary.ts) and the traces are kept sorted newest first for
// each filter of `list` (recent.ts), so that a list reads only the traces it answers: a viewer may list in a loop.
import { createRecent } from './recent.js'
import { addToSummary, startSummary, summaryOf } from './summary.js'
import type { Summary } from './summary.js'

export type SpanKind = 'rpc-server' | 'rpc-client' | 'hook-emit' | 'hook-handle'
export const SPAN_KINDS: ReadonlySet<string> = new Set<SpanKind>(['rpc-server', 'rpc-client', 'hook-emit', 'hook-handle'])

export interface StoredSpan {
  /** 16 hex digits */
  span: string
  parent: string | null
  module: string
  instance: number
  kind: SpanKind
  name: string
  /** ms since the Unix epoch, to the µs */
  start: number
  durationMs: number
  outcome: 'ok' | 'error'
  code: string | null
}

export interface TraceSummary {
  trace: string
  root: { module: string, method: string }
  start: number
  durationMs: number
  spans: number
  error: string | null
}

export interface StoreLimits {
  maxSpans: number
  maxBytes: number
  maxSpansPerTrace: number
}

export interface StoreCounters {
  traces: number
  spans: number
  bytes: number
  /** spans taken in since start */
  added: number
  evictedTraces: number
  evictedSpans: number
  /** spans dropped because their trace held maxSpansPerTrace spans, or maxBytes, already */
  droppedOverTraceLimit: number
  /** spans dropped because their module held half of their trace's maxSpansPerTrace, or half of maxSpans, already */
  droppedOverModuleShare: number
}

interface Trace {
  id: string
  /** the order traces came in */
  seq: number
  spans: StoredSpan[]
  bytes: number
  /** what each module holds of the trace */
  byModule: Map<string, Held>
  summary: Summary
}

/** spans, and their estimated bytes */
interface Held { spans: number, bytes: number }

/**
 * a span's estimated cost in memory: the object and its strings (UTF-16), and its share of the list index
 * (≈ 50 bytes per span kept, measured by bench/tracing-store.ts)
 */
export function spanBytes (span: StoredSpan): number {
  return 250 + 2 * (span.module.length + span.name.length + (span.code?.length ?? 0))
}

/**
 * what an answer of list or show may hold, in estimated bytes of JSON (the larger form): the tracing module
 * publishes it on the module socket, whose packets are at most 256 KiB, and a larger one would close its
 * connection (a viewer asking for a trace of long names must not restart the module)
 */
export const ANSWER_BYTES = 192 * 1024

/** a span's or a summary's size in a JSON answer, at most: its keys, ids and numbers, and its text */
function answerBytes (...texts: Array<string | null>): number {
  let bytes = 220
  for (const text of texts) if (text !== null) bytes += Buffer.byteLength(text) * 2 // a JSON escape doubles a byte at most (\u00XX sextuples only control characters, which no name has)
  return bytes
}

export interface TraceStore {
  add (trace: string, span: StoredSpan): boolean
  /** newest first, at most `limit`, and fewer when the answer would pass ANSWER_BYTES */
  list (options: { limit: number, module?: string, errorsOnly?: boolean }): TraceSummary[]
  /** the trace's spans by start, as many as fit in ANSWER_BYTES; `omitted` counts the rest */
  show (trace: string): { spans: StoredSpan[], omitted: number } | undefined
  counters (): StoreCounters
}

export function createTraceStore (limits: StoreLimits): TraceStore {
  const traces = new Map<string, Trace>() // insertion order: the oldest first
  let seq = 0
  const recent = createRecent<Trace>({ seq: t => t.seq, start: t => t.summary.first.start, error: t => t.summary.error !== undefined, modules: t => t.byModule.keys() })
  let spans = 0
  let bytes = 0
  const counters = { added: 0, evictedTraces: 0, evictedSpans: 0, droppedOverTraceLimit: 0, droppedOverModuleShare: 0 }
  // a module's share of a trace and of the store
  const perTraceShare: Held = { spans: Math.ceil(limits.maxSpansPerTrace / 2), bytes: limits.maxBytes / 2 }
  const perStoreShare: Held = { spans: Math.ceil(limits.maxSpans / 2), bytes: limits.maxBytes / 2 }
  const heldBy = new Map<string, Held>() // what each module holds in the store: bounded by the modules that sent spans kept now
  /** whether `held` plus one span of `cost` bytes stays within `share` */
  const within = (held: Held | undefined, cost: number, share: Held): boolean => held === undefined || (held.spans < share.spans && held.bytes + cost <= share.bytes)
  const hold = (map: Map<string, Held>, module: string, cost: number): void => {
    const held = map.get(module)
    if (held === undefined) map.set(module, { spans: 1, bytes: cost })
    else {
      held.spans++
      held.bytes += cost
    }
  }

  const keep = (trace: Trace, span: StoredSpan, cost: number): void => {
    trace.spans.push(span)
    hold(trace.byModule, span.module, cost)
  }

  const evictOldest = (): void => {
    const oldest = traces.keys().next()
    if (oldest.done === true) return
    const trace = traces.get(oldest.value) as Trace
    traces.delete(oldest.value)
    recent.remove(trace)
    spans -= trace.spans.length
    bytes -= trace.bytes
    for (const [module, inTrace] of trace.byModule) {
      const held = heldBy.get(module) as Held
      held.spans -= inTrace.spans
      held.bytes -= inTrace.bytes
      if (held.spans <= 0) heldBy.delete(module)
    }
    counters.evictedTraces++
    counters.evictedSpans += trace.spans.length
  }

  return {
    add (id, span) {
      let trace = traces.get(id)
      const cost = spanBytes(span)
      // one trace never holds more than maxSpansPerTrace (≤ maxSpans, schema.ts) nor maxBytes on its own,
      // so the newest trace always fits once the older ones are evicted
      if (trace !== undefined && (trace.spans.length >= limits.maxSpansPerTrace || trace.bytes + cost > limits.maxBytes)) {
        counters.droppedOverTraceLimit++
        return false
      }
      if (!within(trace?.byModule.get(span.module), cost, perTraceShare) || !within(heldBy.get(span.module), cost, perStoreShare)) {
        counters.droppedOverModuleShare++
        return false
      }
      if (trace === undefined) {
        const created: Trace = { id, seq: seq++, spans: [], bytes: 0, byModule: new Map(), summary: startSummary(span) }
        traces.set(id, created)
        keep(created, span, cost)
        recent.insert(created)
        trace = created
      } else if (span.start < trace.summary.first.start || (span.code !== null && trace.summary.error === undefined) || !trace.byModule.has(span.module)) {
        // its start, error or modules change: it moves in the views it is in and joins new ones
        const changed = trace
        recent.update(changed, () => {
          addToSummary(changed.summary, span)
          keep(changed, span, cost)
        })
      } else {
        addToSummary(trace.summary, span)
        keep(trace, span, cost)
      }
      hold(heldBy, span.module, cost)
      trace.bytes += cost
      spans++
      bytes += cost
      counters.added++
      while ((spans > limits.maxSpans || bytes > limits.maxBytes) && traces.size > 1) evictOldest()
      return true
    },

    list ({ limit, module, errorsOnly }) {
      const out: TraceSummary[] = []
      let bytes = 0
      for (const trace of recent.newest({ module, errorsOnly })) {
        if (out.length >= limit) break
        const s = summaryOf(trace.id, trace.summary, trace.spans)
        bytes += answerBytes(s.root.module, s.root.method, s.error)
        if (bytes > ANSWER_BYTES) break
        out.push(s)
      }
      return out
    },

    show (id) {
      const trace = traces.get(id)
      if (trace === undefined) return undefined
      const spans = [...trace.spans].sort((a, b) => a.start - b.start)
      let bytes = 0
      let fit = 0
      for (const span of spans) {
        bytes += answerBytes(span.module, span.name, span.code)
        if (bytes > ANSWER_BYTES) break
        fit++
      }
      return { spans: spans.slice(0, fit), omitted: spans.length - fit }
    },

    counters () {
      return { traces: traces.size, spans, bytes, ...counters }
    },
  }
}
