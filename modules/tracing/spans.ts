// Reads one batch of spans a module sent on spans/<module>/<instance> (docs/observability.md, "Spans on the
// bus"). The module and instance come from the topic, which the broker lets only that module instance
// publish on (core/broker/access.ts): a batch cannot speak for another module. Every span is checked; a
// malformed one is skipped and counted, never trusted.
import { SPAN_KINDS } from './store.js'
import type { SpanKind, StoredSpan } from './store.js'

/** the longest name a span may carry: a hook-handle's `<module>/<4 levels of 64>` */
const MAX_NAME = 300
const MAX_CODE = 64
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

export interface Batch {
  spans: Array<{ trace: string, span: StoredSpan }>
  /** spans the module says it dropped since its last batch */
  dropped: number
  malformed: number
}

function id (value: unknown, bytes: number): string | null {
  if (!(value instanceof Uint8Array) || value.length !== bytes) return null
  for (const byte of value) if (byte !== 0) return Buffer.from(value.buffer, value.byteOffset, bytes).toString('hex')
  return null // all zero: no id [W3C Trace Context § 3.2.2.3]
}

/** text of 1 to `max` characters without control characters (which would also cost six bytes each in a JSON answer) */
function text (value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max && !CONTROL.test(value)
}

/** null when the payload is not a batch at all */
export function readBatch (decoded: unknown, module: string, instance: number): Batch | null {
  if (decoded === null || typeof decoded !== 'object' || !Array.isArray((decoded as { spans?: unknown }).spans)) return null
  const { spans, dropped } = decoded as { spans: unknown[], dropped?: unknown }
  const batch: Batch = { spans: [], dropped: typeof dropped === 'number' && Number.isSafeInteger(dropped) && dropped > 0 ? dropped : 0, malformed: 0 }
  for (const item of spans) {
    const s = (item ?? {}) as Record<string, unknown>
    const trace = id(s.trace, 16)
    const span = id(s.span, 8)
    const parent = s.parent === null || s.parent === undefined ? null : id(s.parent, 8)
    const ok = trace !== null && span !== null && (parent !== null || s.parent === null || s.parent === undefined) &&
      typeof s.kind === 'string' && SPAN_KINDS.has(s.kind) && text(s.name, MAX_NAME) &&
      typeof s.start === 'number' && Number.isSafeInteger(s.start) && s.start >= 0 &&
      typeof s.us === 'number' && Number.isSafeInteger(s.us) && s.us >= 0 &&
      (s.code === null || s.code === undefined || text(s.code, MAX_CODE))
    if (!ok) {
      batch.malformed++
      continue
    }
    const code = typeof s.code === 'string' ? s.code : null
    batch.spans.push({
      trace: trace as string,
      span: {
        span: span as string,
        parent,
        module,
        instance,
        kind: s.kind as SpanKind,
        name: s.name as string,
        start: (s.start as number) / 1000,
        durationMs: (s.us as number) / 1000,
        outcome: code === null ? 'ok' : 'error',
        code,
      },
    })
  }
  return batch
}
