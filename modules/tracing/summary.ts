// A trace's summary as `list` answers it (docs/observability.md), kept up to date span by span so that a list
// reads it instead of going over the trace's spans. Each field is what a pass over the spans in arrival
// order picks: the first span of the earliest start, the latest end, the first failed span of the earliest
// start, and the root — the first span without a parent, else the first of the earliest start among the
// spans whose parent is not in the trace (spans often arrive before their parent: a child ends first).
import { createSorted } from './sorted.js'
import type { Sorted } from './sorted.js'
import type { StoredSpan, TraceSummary } from './store.js'

export interface Summary {
  first: StoredSpan
  /** the latest end, and at least 0 */
  end: number
  error: StoredSpan | undefined
  /** the first span without a parent: once one came, the root never changes */
  root: StoredSpan | undefined
  /** until `root` is set: what finds the earliest span whose parent is missing */
  orphans: Orphans | undefined
}

interface Orphans {
  /** the ids of the trace's spans */
  ids: Set<string>
  /** the spans whose parent has not arrived, by the parent's id */
  waiting: Map<string, Orphan[]>
  byStart: Sorted<Orphan>
  /** spans arrived, for ties in start */
  arrived: number
}

interface Orphan { span: StoredSpan, order: number }

const byStart = (a: Orphan, b: Orphan): number => a.span.start - b.span.start || a.order - b.order

export function startSummary (span: StoredSpan): Summary {
  const summary: Summary = { first: span, end: 0, error: undefined, root: undefined, orphans: { ids: new Set(), waiting: new Map(), byStart: createSorted(byStart), arrived: 0 } }
  addToSummary(summary, span)
  return summary
}

/** `span` arrived, after the trace's earlier ones (the first one included when the summary was started with it) */
export function addToSummary (summary: Summary, span: StoredSpan): void {
  if (span.start < summary.first.start) summary.first = span
  summary.end = Math.max(summary.end, span.start + span.durationMs)
  if (span.code !== null && (summary.error === undefined || span.start < summary.error.start)) summary.error = span
  const orphans = summary.orphans
  if (orphans === undefined) return
  const order = orphans.arrived++
  orphans.ids.add(span.span)
  for (const child of orphans.waiting.get(span.span) ?? []) orphans.byStart.delete(child)
  orphans.waiting.delete(span.span)
  if (span.parent === null) {
    summary.root = span
    summary.orphans = undefined // no longer needed: its memory goes with it
  } else if (!orphans.ids.has(span.parent)) {
    const orphan = { span, order }
    orphans.byStart.insert(orphan)
    const siblings = orphans.waiting.get(span.parent)
    if (siblings === undefined) orphans.waiting.set(span.parent, [orphan])
    else siblings.push(orphan)
  }
}

export function summaryOf (trace: string, summary: Summary, spans: number): TraceSummary {
  const top = summary.root ?? summary.orphans?.byStart.first()?.span ?? summary.first
  return {
    trace,
    root: { module: top.module, method: top.name },
    start: summary.first.start,
    durationMs: summary.end - summary.first.start,
    spans,
    error: summary.error?.code ?? null,
  }
}
