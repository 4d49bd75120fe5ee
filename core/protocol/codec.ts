// CBOR on the wire, RFC 8949 plain data only: maps with text keys, arrays, text, numbers, byte strings,
// booleans, null. The cbor-x options below switch off its private extensions (records, structured clone,
// bundled strings, tag 64 for Uint8Array) so any CBOR library in any language decodes what we send.
// Everything a client sends is decoded here, within limits (docs/protocol.md, "Limits"): a value nested
// deeper than MAX_DEPTH is refused before it is decoded, since both decoders and every encoder recurse (a
// 40 KB JSON request nested 20,000 deep once crashed the core when it was encoded again).
import { Encoder, Decoder, addExtension, setSizeLimits } from 'cbor-x'
import { OutpostError } from '../errors.js'
import { MAX_DEPTH, TOO_DEEP, cborItemEnd, objectsWalked } from './envelope-head.js'

export { MAX_DEPTH }
/**
 * arrays, maps, tags and byte strings in one CBOR payload beyond which it is refused before it is decoded:
 * each is one byte or a few in CBOR and an object of 30 to 100 bytes once decoded (a Buffer for a byte
 * string), so 256 KiB of empty byte strings made 28 MiB of heap (review 5). At the limit, ≈ 6.5 MiB.
 */
export const MAX_OBJECTS = 65_536
/** entries of one CBOR array, and of one CBOR map, beyond which cbor-x refuses to decode */
export const MAX_ARRAY_ITEMS = 262_144
export const MAX_MAP_ENTRIES = 65_536

// cbor-x's limits are process-wide; cbor-x also refuses a declared length beyond the bytes that remain, so
// what it builds is bounded by the packet size as well
setSizeLimits({ maxArraySize: MAX_ARRAY_ITEMS, maxMapSize: MAX_MAP_ENTRIES, maxObjectSize: MAX_MAP_ENTRIES })

/**
 * Tags cbor-x turns into what is not data, refused before their content is read: shared values (28, 29), which
 * make cycles that no encoder or printer survives; packed values (51, 6), which repeat one value many times
 * over; and objects (27: an Error or RegExp; 258: a Set; 259: a Map). Other tags decode as cbor-x does (a
 * date for 0 and 1, a bigint for 2 and 3, a `Tag` for the rest).
 */
export const REFUSED_TAGS: Readonly<Record<number, string>> = { 6: 'packed reference', 27: 'object', 28: 'shareable value', 29: 'shared reference', 51: 'packed values', 258: 'set', 259: 'map with any keys' }
// cbor-x's tag table is process-wide, as its size limits are
for (const [tag, what] of Object.entries(REFUSED_TAGS)) {
  const refuse = (): never => { throw new Error(`tag ${tag} (${what}) is not plain data`) }
  refuse.handlesRead = true // called before the tag's content is read
  addExtension({ tag: Number(tag), decode: refuse } as unknown as Parameters<typeof addExtension>[0])
}

const encoder = new Encoder({
  useRecords: false,
  structuredClone: false,
  bundleStrings: false,
  tagUint8Array: false,
  variableMapSize: true,
  mapsAsObjects: true,
  pack: false,
})

const decoder = new Decoder({
  useRecords: false,
  structuredClone: false,
  bundleStrings: false,
  mapsAsObjects: true,
  // a 64-bit integer (a time in ms, from any CBOR library) is a number, not a bigint: exact up to 2^53
  // (documented in cbor-x's README, missing from its type definitions)
  int64AsNumber: true,
} as ConstructorParameters<typeof Decoder>[0])

// cbor-x decodes up to an end it is given (its `decode(source, end)`, missing from its type definitions), as
// if the bytes stopped there: no view of them is needed
const decodeUpTo = decoder.decode.bind(decoder) as (bytes: Buffer, end: number) => unknown

export type WireFormat = 'cbor' | 'json'

/**
 * A time in ms since the Unix epoch as the protocol sends it: a CBOR integer (docs/protocol.md). cbor-x
 * writes a JavaScript number beyond 32 bits as a float64 even when it is whole; a bigint it writes as an
 * integer (0x1b and 8 bytes).
 */
let lastMs = Number.NaN
let lastInteger = 0n

export function epochMs (ms: number): bigint {
  const whole = Math.trunc(ms)
  // a module emitting hooks fast stamps hundreds of them with the same millisecond: one bigint for them all
  if (whole !== lastMs) {
    lastMs = whole
    lastInteger = BigInt(whole)
  }
  return lastInteger
}

export function encodeCbor (value: unknown): Buffer {
  return encoder.encode(value)
}

/** Decodes CBOR (one item, up to `end`) within the limits above; throws BAD_REQUEST saying what is wrong. */
export function decodeCbor (bytes: Uint8Array, end = bytes.length): unknown {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // a payload shorter than the limits cannot nest deeper than one, nor hold more objects than the other
  if (end > MAX_DEPTH) {
    if (cborItemEnd(buffer, 0, MAX_DEPTH) === TOO_DEEP) throw tooDeep('cbor')
    if (objectsWalked() > MAX_OBJECTS) throw new OutpostError('BAD_REQUEST', `CBOR payload holds more than ${MAX_OBJECTS} arrays, maps, tags and byte strings`, { details: { maxObjects: MAX_OBJECTS } })
  }
  try {
    return decodeUpTo(buffer, end)
  } catch (err) {
    throw new OutpostError('BAD_REQUEST', `payload is not valid CBOR: ${(err as Error).message}`, { cause: err })
  }
}

/** Decodes JSON within the depth limit; throws BAD_REQUEST saying what is wrong. */
export function decodeJson (bytes: Uint8Array): unknown {
  if (bytes.length > MAX_DEPTH && jsonDepthExceeds(bytes, MAX_DEPTH)) throw tooDeep('json')
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (err) {
    throw new OutpostError('BAD_REQUEST', `payload is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}

/** the refusal of a payload nested deeper than MAX_DEPTH, as the decoders here, the SDK and the router give it */
export function tooDeep (format: WireFormat): OutpostError {
  return new OutpostError('BAD_REQUEST', `${format.toUpperCase()} payload nested deeper than ${MAX_DEPTH} levels`, { details: { maxDepth: MAX_DEPTH } })
}

/** Counts `[` and `{` outside strings over the bytes (UTF-8 never puts these bytes inside a multi-byte character). */
function jsonDepthExceeds (bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]
    if (inString) {
      if (byte === 0x5c) i++ // backslash: the next byte is escaped
      else if (byte === 0x22) inString = false
    } else if (byte === 0x22) inString = true
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > maxDepth) return true
    } else if (byte === 0x5d || byte === 0x7d) depth--
  }
  return false
}

/**
 * MQTT 3.1.1 has no content-type property, so JSON is told apart by its first byte: a JSON request is an
 * object and starts with `{` (after optional whitespace). A CBOR envelope is a map (major type 5, first
 * byte 0xA0–0xBF) and can never start with `{` (0x7B) or whitespace.
 */
export function sniffFormat (bytes: Uint8Array): WireFormat {
  for (const byte of bytes) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue
    return byte === 0x7b ? 'json' : 'cbor'
  }
  return 'cbor'
}

export function decode (bytes: Uint8Array, format: WireFormat): unknown {
  return format === 'json' ? decodeJson(bytes) : decodeCbor(bytes)
}

export function encode (value: unknown, format: WireFormat): Buffer {
  if (format === 'json') return Buffer.from(JSON.stringify(value, jsonReplacer))
  return encodeCbor(value)
}

// Byte strings have no JSON form: they travel as base64 text in JSON replies.
function jsonReplacer (_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64')
  }
  if (typeof value === 'bigint') return value.toString()
  return value
}
