// The trace context a request or hook envelope may carry (docs/protocol.md, "Trace context"): the fields of
// W3C Trace Context's `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header) as
// three optional envelope keys. CBOR carries the ids as byte strings; JSON, which has none, as lowercase
// hex text. Invalid context is ignored, as W3C says of an invalid traceparent (§ 3.2.2.3: "the vendor
// MUST ignore the traceparent header and … start a new trace"): it is never an error.

export interface TraceContext {
  /** 16 bytes, not all zero */
  trace: Uint8Array
  /** the caller's span: 8 bytes, not all zero */
  parent: Uint8Array
  /** trace flags; bit 0 (sampled) is the one Outpost reads */
  flags: number
}

export const TRACE_ID_BYTES = 16
export const SPAN_ID_BYTES = 8
/** trace-flags bit 0 [W3C Trace Context § 3.2.2.5] */
export const SAMPLED = 1

function notAllZero (bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return true
  return false
}

const HEX = /^[0-9a-f]*$/

function idOf (value: unknown, length: number, json: boolean): Uint8Array | null {
  if (json) {
    // lowercase only, as a traceparent's ids are [W3C Trace Context § 3.2.2.3, 3.2.2.4]
    if (typeof value !== 'string' || value.length !== length * 2 || !HEX.test(value)) return null
    const bytes = Buffer.from(value, 'hex')
    return notAllZero(bytes) ? bytes : null
  }
  return value instanceof Uint8Array && value.length === length && notAllZero(value) ? value : null
}

/**
 * The trace context of a decoded envelope, or undefined when it has none or an invalid one (a key of the
 * wrong type or length, an all-zero id, flags that are not an integer 0–255).
 */
export function readTraceContext (envelope: { trace?: unknown, parent?: unknown, flags?: unknown }, json: boolean): TraceContext | undefined {
  if (envelope.trace === undefined) return undefined
  const trace = idOf(envelope.trace, TRACE_ID_BYTES, json)
  const parent = idOf(envelope.parent, SPAN_ID_BYTES, json)
  const flags = envelope.flags
  if (trace === null || parent === null || typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 255) return undefined
  return { trace, parent, flags }
}

export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
