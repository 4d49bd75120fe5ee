// Reads the first entries of a CBOR envelope without decoding the rest. The broker's RPC router needs only
// a request's id, reply topic and timeout, and a reply's id, for every message it routes; a full decode
// (the arguments or the result included) was its largest cost. The SDK writes those fields first; an
// envelope written in another order is simply decoded in full by the caller of this function.

export interface EnvelopeHead {
  id?: number | string
  reply?: string
  timeout?: number
  [key: string]: number | string | undefined
}

/** The argument of an item header [RFC 8949 §3.1] and where the item goes on; null when it is not a plain 0–32-bit length. */
function argument (bytes: Buffer, at: number): { value: number, next: number } | null {
  const info = (bytes[at] ?? 0) & 0x1f
  if (info < 24) return { value: info, next: at + 1 }
  if (info === 24 && at + 1 < bytes.length) return { value: bytes[at + 1] ?? 0, next: at + 2 }
  if (info === 25 && at + 2 < bytes.length) return { value: bytes.readUInt16BE(at + 1), next: at + 3 }
  if (info === 26 && at + 4 < bytes.length) return { value: bytes.readUInt32BE(at + 1), next: at + 5 }
  return null // 64-bit or indefinite: not a head field
}

/**
 * The leading entries of a CBOR map whose keys are text and whose values are unsigned integers or text,
 * up to the first entry that is anything else. Null when `bytes` is not a CBOR map.
 */
export function readEnvelopeHead (bytes: Buffer): EnvelopeHead | null {
  const first = bytes[0] ?? 0
  if (first >> 5 !== 5) return null
  let count: number
  let at: number
  if (first === 0xbf) { // indefinite-length map: entries until the 0xff break
    count = Number.POSITIVE_INFINITY
    at = 1
  } else {
    const header = argument(bytes, 0)
    if (header === null) return null
    count = header.value
    at = header.next
  }
  const head: EnvelopeHead = {}
  for (let entry = 0; entry < count && at < bytes.length; entry++) {
    if ((bytes[at] ?? 0) >> 5 !== 3) break // the key is not a text string (or the break byte)
    const key = argument(bytes, at)
    if (key === null || key.next + key.value > bytes.length) break
    const name = bytes.toString('utf8', key.next, key.next + key.value)
    at = key.next + key.value
    const major = (bytes[at] ?? 0) >> 5
    const value = argument(bytes, at)
    if (value === null) break
    if (major === 0) {
      head[name] = value.value
      at = value.next
    } else if (major === 3 && value.next + value.value <= bytes.length) {
      head[name] = bytes.toString('utf8', value.next, value.next + value.value)
      at = value.next + value.value
    } else break
  }
  return head
}
