// The tracing store as it was before its list had an index (modules/tracing/store.ts at 49bc066): list scans
// every trace, builds its summary and sorts them all. It is the reference the indexed store must answer
// exactly as (store-list.test.ts), and the "before" of bench/tracing-store.ts.
import { ANSWER_BYTES, spanBytes } from '../../modules/tracing/store.js'
import type { StoreLimits, StoredSpan, TraceStore, TraceSummary } from '../../modules/tracing/store.js'

interface Trace {
  spans: StoredSpan[]
  bytes: number
  /** what each module holds of the trace */
  byModule: Map<string, Held>
}

/** spans, and their estimated bytes */
interface Held { spans: number, bytes: number }

/** a span's or a summary's size in a JSON answer, at most: its keys, ids and numbers, and its text */
function answerBytes (...texts: Array<string | null>): number {
  let bytes = 220
  for (const text of texts) if (text !== null) bytes += Buffer.byteLength(text) * 2 // a JSON escape doubles a byte at most (\u00XX sextuples only control characters, which no name has)
  return bytes
}

export function createReferenceStore (limits: StoreLimits): TraceStore {
  const traces = new Map<string, Trace>() // insertion order: the oldest first
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

  const evictOldest = (): void => {
    const oldest = traces.keys().next()
    if (oldest.done === true) return
    const trace = traces.get(oldest.value) as Trace
    traces.delete(oldest.value)
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

  const summary = (id: string, trace: Trace): TraceSummary => {
    let first = trace.spans[0] as StoredSpan
    let end = 0
    let root: StoredSpan | undefined
    let error: StoredSpan | undefined
    const ids = new Set(trace.spans.map(s => s.span))
    for (const span of trace.spans) {
      if (span.start < first.start) first = span
      end = Math.max(end, span.start + span.durationMs)
      // the root: the span without a parent, or (its spans not arrived, or evicted) the earliest whose parent is missing
      if (span.parent === null || !ids.has(span.parent)) {
        if (root === undefined || (root.parent !== null && (span.parent === null || span.start < root.start))) root = span
      }
      if (span.code !== null && (error === undefined || span.start < error.start)) error = span
    }
    const top = root ?? first
    return {
      trace: id,
      root: { module: top.module, method: top.name },
      start: first.start,
      durationMs: end - first.start,
      spans: trace.spans.length,
      error: error?.code ?? null,
    }
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
        trace = { spans: [], bytes: 0, byModule: new Map() }
        traces.set(id, trace)
      }
      trace.spans.push(span)
      hold(trace.byModule, span.module, cost)
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
      for (const [id, trace] of traces) {
        if (module !== undefined && !trace.spans.some(s => s.module === module)) continue
        const s = summary(id, trace)
        if (errorsOnly === true && s.error === null) continue
        out.push(s)
      }
      out.sort((a, b) => b.start - a.start)
      let bytes = 0
      let fit = 0
      for (const s of out.slice(0, limit)) {
        bytes += answerBytes(s.root.module, s.root.method, s.error)
        if (bytes > ANSWER_BYTES) break
        fit++
      }
      return out.slice(0, fit)
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
