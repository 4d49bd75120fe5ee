// The trace context a request or hook envelope may carry (docs/protocol.md, "Trace context"): the fields of
// W3C Trace Context's `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header) as
// three optional envelope keys. CBOR carries the ids as byte strings; JSON, which has none, as lowercase
// hex text. Invalid context is ignored, as W3C says of an invalid traceparent (§ 3.2.2.3: "the vendor
// MUST ignore the traceparent header and … start a new trace"): it is never an error.
import { decodeCbor, decodeJson, encodeCbor } from './codec.js'
import type { WireFormat } from './codec.js'

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
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return true
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
  // a copy: cbor-x decodes a byte string as a view into the packet, which a context kept (the last one written:
  // contextEntries) would keep whole
  return value instanceof Uint8Array && value.length === length && notAllZero(value) ? new Uint8Array(value) : null
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

// The three entries as cbor-x writes them, ids zero and without the flags' value (an unsigned integer: one
// byte below 24, two from 24): `trace` (text of 5 bytes, then a byte string of 16), `parent` (text of 6, bytes
// of 8), `flags` (text of 5). The ids' places follow from these lengths.
const ENTRIES = Buffer.from(encodeCbor({ trace: Buffer.alloc(TRACE_ID_BYTES), parent: Buffer.alloc(SPAN_ID_BYTES), flags: 0 }).subarray(1, -1))
const TRACE_AT = 1 + 5 + 1
const PARENT_AT = TRACE_AT + TRACE_ID_BYTES + 1 + 6 + 1

/**
 * `envelope` encoded as the first entries of a map that the context's three entries (`contextEntries`)
 * complete: what cbor-x writes for it, its header counting three entries more. The two go out one after the
 * other (the SDK writes both into its PUBLISH: mqtt-publish.ts), so a traced request costs no buffer of its
 * own. The entries are written by hand, since cbor-x spends ≈ 250 ns on each byte string (it tries a dozen
 * classes in turn before it takes a Buffer for a Uint8Array), as much as on the rest of a request.
 * `envelope` is one of the SDK's own, a map of fewer than 21 entries: its header is one byte.
 */
export function encodeBeforeContext (envelope: Record<string, unknown>): Buffer {
  const body = encodeCbor(envelope) // a buffer of its own (cbor-x never writes over what it returned)
  const header = body[0] as number
  if (header < 0xa0 || header > 0xa0 + 20) throw new Error('encodeBeforeContext: the envelope is not a map of fewer than 21 entries')
  body[0] = header + 3
  return body
}

// the entries of the context last written: a handler's calls all carry the same one
let entriesOf: TraceContext | undefined
let entries = Buffer.alloc(0)

/** The context's three entries as cbor-x would write them after an envelope's own (`encodeBeforeContext`). Kept until the next context: not to be changed. */
export function contextEntries (context: TraceContext): Buffer {
  if (context === entriesOf) return entries
  const flagsBytes = context.flags < 24 ? 1 : 2
  const out = Buffer.alloc(ENTRIES.length + flagsBytes)
  out.set(ENTRIES, 0)
  out.set(context.trace, TRACE_AT)
  out.set(context.parent, PARENT_AT)
  if (flagsBytes === 2) out[ENTRIES.length] = 0x18
  out[out.length - 1] = context.flags
  entriesOf = context
  entries = out
  return out
}

/** does `bytes` hold, from `at` to its end, the three entries as ENTRIES lays them out (any ids, any flags)? */
function entriesAt (bytes: Buffer, at: number): boolean {
  const flagsAt = at + ENTRIES.length
  const flagsEnd = bytes[flagsAt] === 0x18 ? flagsAt + 2 : (bytes[flagsAt] ?? 0xff) < 24 ? flagsAt + 1 : -1
  if (at < 1 || flagsEnd !== bytes.length) return false
  for (let i = 0; i < TRACE_AT; i++) if (bytes[at + i] !== ENTRIES[i]) return false
  for (let i = TRACE_AT + TRACE_ID_BYTES; i < PARENT_AT; i++) if (bytes[at + i] !== ENTRIES[i]) return false
  for (let i = PARENT_AT + SPAN_ID_BYTES; i < ENTRIES.length; i++) if (bytes[at + i] !== ENTRIES[i]) return false
  return true
}

function sameAt (bytes: Buffer, at: number, id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (bytes[at + i] !== id[i]) return false
  return true
}

/** a copy of `length` bytes: a typed array this small lives on V8's heap, cheaper than a Buffer or a view */
function copyAt (bytes: Buffer, at: number, length: number): Uint8Array {
  const copy = new Uint8Array(length)
  for (let i = 0; i < length; i++) copy[i] = bytes[at + i] as number
  return copy
}

// the context last read from bytes: the requests of one trace (a handler's calls) bring the same one again
// and again, and get the same object, which the tracer then finds already current (core/sdk/tracer.ts)
let last: TraceContext | undefined

/** the context of ENTRIES' layout at `at` (its ids copied: the packet's buffer is not kept), or undefined when an id is all zero */
function contextAt (bytes: Buffer, at: number): TraceContext | undefined {
  const flags = bytes[bytes.length - 1] as number
  if (last !== undefined && last.flags === flags && sameAt(bytes, at + TRACE_AT, last.trace) && sameAt(bytes, at + PARENT_AT, last.parent)) return last
  const trace = copyAt(bytes, at + TRACE_AT, TRACE_ID_BYTES)
  const parent = copyAt(bytes, at + PARENT_AT, SPAN_ID_BYTES)
  if (!notAllZero(trace) || !notAllZero(parent)) return undefined
  last = { trace, parent, flags }
  return last
}

/**
 * A request or hook envelope decoded as codec.ts decodes it, and its trace context. In CBOR, when the bytes
 * end with the context's three entries as contextEntries writes them, they are read from the bytes and
 * cbor-x decodes the map without them: it spent ≈ 300 ns on two byte strings and three keys, a third of a
 * small request's decode, and their 46 bytes could take an envelope past the size (140 bytes) from which
 * cbor-x reads text in native code. That decode succeeds only if those bytes are the map's last three entries (a
 * byte string ending with the same bytes leaves the shortened map truncated); otherwise the envelope is
 * decoded whole and the context read from its keys. Throws as decode does.
 */
export function decodeWithContext (bytes: Buffer, format: WireFormat): { envelope: unknown, context: TraceContext | undefined } {
  if (format === 'json') {
    const envelope = decodeJson(bytes)
    return { envelope, context: typeof envelope === 'object' && envelope !== null ? readTraceContext(envelope, true) : undefined }
  }
  const header = bytes[0] ?? 0
  const at = bytes.length - ENTRIES.length - (bytes[bytes.length - 2] === 0x18 ? 2 : 1)
  // a map of 3 to 23 entries (its header one byte) that ends with contextEntries' bytes
  if (header >= 0xa3 && header <= 0xb7 && entriesAt(bytes, at)) {
    bytes[0] = header - 3 // the map without them, up to `at`; the header is written back at once
    let envelope: unknown
    let decoded = false
    try {
      envelope = decodeCbor(bytes, at)
      decoded = true
    } catch {
      // not the map's entries after all: decoded whole below
    } finally {
      bytes[0] = header
    }
    if (decoded) return { envelope, context: contextAt(bytes, at) }
  }
  const envelope = decodeCbor(bytes)
  return { envelope, context: typeof envelope === 'object' && envelope !== null ? readTraceContext(envelope, false) : undefined }
}
