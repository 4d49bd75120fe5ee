// CBOR on the wire, RFC 8949 plain data only: maps with text keys, arrays, text, numbers, byte strings,
// booleans, null. The cbor-x options below switch off its private extensions (records, structured clone,
// bundled strings, tag 64 for Uint8Array) so any CBOR library in any language decodes what we send.
import { Encoder, Decoder } from 'cbor-x'

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

export type WireFormat = 'cbor' | 'json'

/**
 * A time in ms since the Unix epoch as the protocol sends it: a CBOR integer (docs/protocol.md). cbor-x
 * writes a JavaScript number beyond 32 bits as a float64 even when it is whole; a bigint it writes as an
 * integer (0x1b and 8 bytes).
 */
export function epochMs (ms: number): bigint {
  return BigInt(Math.trunc(ms))
}

export function encodeCbor (value: unknown): Buffer {
  return encoder.encode(value)
}

export function decodeCbor (bytes: Uint8Array): unknown {
  return decoder.decode(bytes)
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
  if (format === 'json') return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  return decodeCbor(bytes)
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
