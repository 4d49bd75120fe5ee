// Reads the first entries of a CBOR envelope without decoding the rest. The broker's RPC router needs only
// a request's id, reply topic and timeout, and a reply's id, for every message it routes; a full decode
// (the arguments or the result included) was its largest cost. The SDK writes those fields first; an
// envelope written in another order is simply decoded in full by the caller of this function.
// This runs twice per call on the broker's hot path, so it allocates only what it returns: keys are
// recognised by their bytes, never turned into strings.

export interface EnvelopeHead {
  id?: number | string
  reply?: string
  timeout?: number
}

const KEY_ID = Buffer.from('id')
const KEY_REPLY = Buffer.from('reply')
const KEY_TIMEOUT = Buffer.from('timeout')

// the last item header read by `header`: its argument, and where the item's content starts
let argument = 0
let content = 0

/** Reads the item header at `at` [RFC 8949 §3.1]; false when its argument is not a plain 0–32-bit length. */
function header (bytes: Buffer, at: number): boolean {
  const info = (bytes[at] ?? 0) & 0x1f
  if (info < 24) {
    argument = info
    content = at + 1
  } else if (info === 24 && at + 1 < bytes.length) {
    argument = bytes[at + 1] ?? 0
    content = at + 2
  } else if (info === 25 && at + 2 < bytes.length) {
    argument = bytes.readUInt16BE(at + 1)
    content = at + 3
  } else if (info === 26 && at + 4 < bytes.length) {
    argument = bytes.readUInt32BE(at + 1)
    content = at + 5
  } else return false // 64-bit or indefinite: not a head field
  return true
}

function isKey (bytes: Buffer, at: number, length: number, key: Buffer): boolean {
  if (length !== key.length) return false
  for (let i = 0; i < length; i++) if (bytes[at + i] !== key[i]) return false
  return true
}

/**
 * The id, reply and timeout among the leading entries of a CBOR map whose keys are text and whose values
 * are unsigned integers or text, up to the first entry that is anything else. Null when `bytes` is not a
 * CBOR map.
 */
export function readEnvelopeHead (bytes: Buffer): EnvelopeHead | null {
  return readInto(bytes, {})
}

const scratch: EnvelopeHead = {}

/** The id among the leading entries (a reply's, say), as readEnvelopeHead reads it, with nothing allocated for the rest. */
export function readEnvelopeId (bytes: Buffer): number | string | undefined {
  scratch.id = undefined
  scratch.reply = undefined
  scratch.timeout = undefined
  return readInto(bytes, scratch)?.id
}

function readInto (bytes: Buffer, head: EnvelopeHead): EnvelopeHead | null {
  const first = bytes[0] ?? 0
  if (first >> 5 !== 5) return null
  let count: number
  let at: number
  if (first === 0xbf) { // indefinite-length map: entries until the 0xff break
    count = Number.POSITIVE_INFINITY
    at = 1
  } else {
    if (!header(bytes, 0)) return null
    count = argument
    at = content
  }
  for (let entry = 0; entry < count && at < bytes.length; entry++) {
    if ((bytes[at] ?? 0) >> 5 !== 3) break // the key is not a text string (or the break byte)
    if (!header(bytes, at) || content + argument > bytes.length) break
    const keyAt = content
    const keyLength = argument
    at = keyAt + keyLength
    const major = (bytes[at] ?? 0) >> 5
    if (!header(bytes, at)) break
    if (major === 0) {
      if (isKey(bytes, keyAt, keyLength, KEY_ID)) head.id = argument
      else if (isKey(bytes, keyAt, keyLength, KEY_TIMEOUT)) head.timeout = argument
      at = content
    } else if (major === 3 && content + argument <= bytes.length) {
      const end = content + argument
      if (isKey(bytes, keyAt, keyLength, KEY_ID)) head.id = bytes.toString('utf8', content, end)
      else if (isKey(bytes, keyAt, keyLength, KEY_REPLY)) head.reply = bytes.toString('utf8', content, end)
      at = end
    } else break
  }
  return head
}
