// A trace's summary as `list` answers it (docs/observability.md), kept up to date span by span so that a list
// reads it instead of going over the trace's spans. Each field is what a pass over the spans in arrival
// order picks: the first span of the earliest start, the latest end, the first failed span of the earliest
// start, and the root — the first span without a parent, else the first of the earliest start among the
// spans whose parent is not in the trace. That last one is found only when a list asks for it (a child ends,
// and arrives, before its parent, so it changes with most spans until the root comes): then it is kept
// until the trace's next span.
import type { StoredSpan, TraceSummary } from './store.js'

export interface Summary {
  first: StoredSpan
  /** the latest end, and at least 0 */
  end: number
  error: StoredSpan | undefined
  /** the first span without a parent: once one came, the root never changes */
  root: StoredSpan | undefined
  /** without `root`: the earliest span whose parent is missing (undefined: none), found with `foundAt` spans */
  orphan: StoredSpan | undefined
  foundAt: number
}

export function startSummary (span: StoredSpan): Summary {
  const summary: Summary = { first: span, end: 0, error: undefined, root: undefined, orphan: undefined, foundAt: 0 }
  addToSummary(summary, span)
  return summary
}

/** `span` arrived, after the trace's earlier ones (the first one included when the summary was started with it) */
export function addToSummary (summary: Summary, span: StoredSpan): void {
  if (span.start < summary.first.start) summary.first = span
  summary.end = Math.max(summary.end, span.start + span.durationMs)
  if (span.code !== null && (summary.error === undefined || span.start < summary.error.start)) summary.error = span
  if (span.parent === null && summary.root === undefined) summary.root = span
}

/** the earliest of `spans` (the first of equals) whose parent is not among them; none has no parent */
function earliestOrphan (spans: StoredSpan[]): StoredSpan | undefined {
  const ids = new Set(spans.map(s => s.span))
  let orphan: StoredSpan | undefined
  for (const span of spans) {
    if (!ids.has(span.parent as string) && (orphan === undefined || span.start < orphan.start)) orphan = span
  }
  return orphan
}

/** `spans`: the trace's, in arrival order */
export function summaryOf (trace: string, summary: Summary, spans: StoredSpan[]): TraceSummary {
  if (summary.root === undefined && summary.foundAt !== spans.length) {
    summary.orphan = earliestOrphan(spans)
    summary.foundAt = spans.length
  }
  const top = summary.root ?? summary.orphan ?? summary.first
  return {
    trace,
    root: { module: top.module, method: top.name },
    start: summary.first.start,
    durationMs: summary.end - summary.first.start,
    spans: spans.length,
    error: summary.error?.code ?? null,
  }
}
