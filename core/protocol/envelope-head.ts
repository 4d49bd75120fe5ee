// Reads an envelope's `id`, `reply` and `timeout` from its bytes, without decoding the rest. The broker's RPC
// router needs only these for every message it routes, and a full decode (the arguments or the result
// included) was its largest cost; the SDK writes them first, so they are found among the leading entries.
// Reading the bytes also gives each field's exact CBOR type, which a decoded value no longer has (cbor-x
// returns the float 1.0 and the unsigned integer 1 alike, and a 64-bit integer as a BigInt): the broker, the
// core and the SDK all read ids here, so they agree on what is an id and which reply answers which request.
// This runs twice per call on the broker's hot path, so it allocates only what it returns: keys are
// recognised by their bytes, never turned into strings. The same item walk (`cborItemEnd`) bounds the
// nesting depth of whatever codec.ts decodes.

/** A field that is present but not of a type it may have (a float or negative id, say). */
export const WRONG_TYPE = null

export interface EnvelopeHead {
  /** an unsigned integer (a BigInt past 2^32 − 1, as cbor-x reads it) or text; WRONG_TYPE when present as anything else */
  id?: number | bigint | string | typeof WRONG_TYPE
  reply?: string | typeof WRONG_TYPE
  /** an unsigned integer or a float */
  timeout?: number | typeof WRONG_TYPE
  /**
   * read whole: the map holds a key that is not text, or it does not end where the bytes do (it is cut
   * short, or something follows it), so a receiver's decoder may read other fields than these
   */
  ambiguous?: true
  /** read whole: a value nests deeper than codec.ts decodes (skipped up to 1024 levels; past that the map is `ambiguous` too, its end unread) */
  tooDeep?: true
}

const KEY_ID = Buffer.from('id')
const KEY_REPLY = Buffer.from('reply')
const KEY_TIMEOUT = Buffer.from('timeout')
const MAX_UINT32 = 0xffff_ffffn

// the last item header read by `header`: its argument, where the item's content starts, and whether the
// argument took 64 bits (then `argument` is only approximate: see `uintAt`)
let argument = 0
let content = 0
let wide = false

/** Reads the item header at `at` [RFC 8949 §3.1]; false when it is truncated or indefinite (info 31) or reserved. */
function header (bytes: Buffer, at: number): boolean {
  const info = (bytes[at] ?? 0) & 0x1f
  wide = false
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
  } else if (info === 27 && at + 8 < bytes.length) {
    argument = bytes.readUInt32BE(at + 1) * 0x1_0000_0000 + bytes.readUInt32BE(at + 5)
    content = at + 9
    wide = true
  } else return false
  return true
}

/** An item's head [RFC 8949 §3.1], as `itemHead` reads it: its major type, argument, and where its content starts. */
export interface ItemHead { major: number, argument: number, content: number }

/** The head of the item at `at`; null when it is truncated, of indefinite length or reserved. Allocates: not for the router's hot path. */
export function itemHead (bytes: Buffer, at: number): ItemHead | null {
  if (at >= bytes.length || !header(bytes, at)) return null
  return { major: (bytes[at] as number) >> 5, argument, content }
}

/**
 * the unsigned integer whose header `header` just read at `at`: a number up to 2^32 − 1, a BigInt beyond, so
 * that cbor-x writes it back as an integer (it writes a number beyond 32 bits as a float64)
 */
function uintAt (bytes: Buffer, at: number): number | bigint {
  if (!wide) return argument
  const value = bytes.readBigUInt64BE(at + 1)
  return value <= MAX_UINT32 ? Number(value) : value
}

/** the float whose header is at `at` (major type 7, info 25–27), or NaN for a simple value */
function floatAt (bytes: Buffer, at: number): number {
  switch ((bytes[at] ?? 0) & 0x1f) {
    case 25: return halfFloat(bytes.readUInt16BE(at + 1))
    case 26: return bytes.readFloatBE(at + 1)
    case 27: return bytes.readDoubleBE(at + 1)
    default: return Number.NaN
  }
}

function halfFloat (half: number): number {
  const exponent = (half >> 10) & 0x1f
  const mantissa = half & 0x3ff
  const sign = half & 0x8000 ? -1 : 1
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : Number.NaN
  return sign * (mantissa + 1024) * 2 ** (exponent - 25)
}

function isKey (bytes: Buffer, at: number, length: number, key: Buffer): boolean {
  if (length !== key.length) return false
  for (let i = 0; i < length; i++) if (bytes[at + i] !== key[i]) return false
  return true
}

/** arrays, maps and tags (CBOR) or arrays and objects (JSON) nested deeper than this are refused (codec.ts) */
export const MAX_DEPTH = 64
/** how deep a whole read of an envelope skips a value nested deeper than MAX_DEPTH, to read the keys after it */
const SKIP_DEPTH = 1024

export const TRUNCATED = -1
export const TOO_DEEP = -2
// items still owed by each open array, map or tag; Infinity for an indefinite-length one
const owed: number[] = []
// arrays, maps, tags and byte strings the last cborItemEnd walked over, for codec.ts's bound on what decoding makes
let objects = 0

/** The arrays, maps, tags and byte strings in the item the last `cborItemEnd` walked (as far as it went). */
export function objectsWalked (): number {
  return objects
}

/**
 * Where the CBOR item at `at` ends, walking nested items in a loop (never recursion, so no input can
 * exhaust the stack): TRUNCATED when it is malformed or runs past the end, TOO_DEEP when arrays, maps and
 * tags nest deeper than `maxDepth`. Only the structure is checked; cbor-x checks the rest when it decodes.
 */
export function cborItemEnd (bytes: Buffer, at: number, maxDepth: number): number {
  let depth = 0
  objects = 0
  for (;;) {
    if (at >= bytes.length) return TRUNCATED
    const initial = bytes[at] as number
    const major = initial >> 5
    if (initial === 0xff) { // break: ends the innermost indefinite-length item
      if (depth === 0 || owed[depth - 1] !== Infinity) return TRUNCATED
      at++
      depth--
    } else if ((initial & 0x1f) === 31) { // indefinite length
      if (major === 2 || major === 3) return TRUNCATED // indefinite strings: cbor-x refuses them too
      if (major !== 4 && major !== 5) return TRUNCATED
      if (depth === maxDepth) return TOO_DEEP
      owed[depth++] = Infinity
      objects++
      at++
      continue
    } else {
      if (!header(bytes, at)) return TRUNCATED
      at = content
      if (major === 2 || major === 3) {
        if (argument > bytes.length - at) return TRUNCATED
        at += argument
        if (major === 2) objects++
      } else if (major === 4 || major === 5 || major === 6) {
        objects++
        const items = major === 4 ? argument : major === 5 ? argument * 2 : 1
        if (items > 0) {
          if (depth === maxDepth) return TOO_DEEP
          if (items > bytes.length - at) return TRUNCATED // every item takes a byte at least
          owed[depth++] = items
          continue
        }
      }
    }
    // one item is done: it counts against every container it completes
    while (depth > 0 && owed[depth - 1] !== Infinity) {
      const left = (owed[depth - 1] as number) - 1
      if (left > 0) {
        owed[depth - 1] = left
        break
      }
      depth--
    }
    if (depth === 0) return at
  }
}


/**
 * The id, reply and timeout of a CBOR map whose keys are text. `leading`: only among the leading entries,
 * up to the first one that is not an integer, float or text, or whose key is not text (the SDK's order, and
 * a module's, which trusts the broker to have read the whole map); else every entry is read, the others
 * skipped, and the map is checked as the broker must check it (`ambiguous`). Null when `bytes` is not a
 * CBOR map.
 */
export function readEnvelopeHead (bytes: Buffer, leading = true): EnvelopeHead | null {
  return readInto(bytes, {}, leading)
}

const scratch: EnvelopeHead = {}

// where the last read stopped among the leading entries: the first entry whose value is neither a number
// nor text (a reply's `result` map or `error`), or whose key is not text; -1 when there was none. For the
// router's error count (rpc-router.ts)
let stoppedAt = -1

/** Where the last `readEnvelopeId(bytes)` stopped among the leading entries (the start of that entry's key), or -1. */
export function leadingStop (): number {
  return stoppedAt
}

/** The id, as readEnvelopeHead reads it, with nothing allocated for the rest; WRONG_TYPE for an ambiguous map (whole reads). */
export function readEnvelopeId (bytes: Buffer, leading = true): EnvelopeHead['id'] {
  scratch.id = undefined
  scratch.reply = undefined
  scratch.timeout = undefined
  scratch.ambiguous = undefined
  scratch.tooDeep = undefined
  const head = readInto(bytes, scratch, leading)
  return head?.ambiguous === true ? WRONG_TYPE : head?.id
}

function readInto (bytes: Buffer, head: EnvelopeHead, leading: boolean): EnvelopeHead | null {
  stoppedAt = -1
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
  let ids = 0
  let replies = 0
  let timeouts = 0
  let complete = false
  for (let entry = 0; ; entry++) {
    if (entry === count) {
      complete = true
      break
    }
    if (at >= bytes.length) break
    if (count === Number.POSITIVE_INFINITY && bytes[at] === 0xff) {
      at++
      complete = true
      break
    }
    // a key that is not text of definite length (a number, a byte string, a tag around "id"): a decoder may
    // still take it for one of ours (cbor-x makes a byte string key text, and drops tag 55799)
    if ((bytes[at] ?? 0) >> 5 !== 3 || !header(bytes, at) || content + argument > bytes.length) {
      if (stoppedAt < 0) stoppedAt = at
      break
    }
    const keyAt = content
    const keyLength = argument
    const valueAt = keyAt + keyLength
    const initial = bytes[valueAt] ?? 0
    const major = initial >> 5
    const field = isKey(bytes, keyAt, keyLength, KEY_ID)
      ? 'id'
      : isKey(bytes, keyAt, keyLength, KEY_REPLY) ? 'reply' : isKey(bytes, keyAt, keyLength, KEY_TIMEOUT) ? 'timeout' : undefined
    if (field === 'id') ids++
    else if (field === 'reply') replies++
    else if (field === 'timeout') timeouts++
    if (major === 0 && header(bytes, valueAt)) {
      if (field === 'id') head.id = uintAt(bytes, valueAt)
      else if (field === 'timeout') head.timeout = argument
      else if (field === 'reply') head.reply = WRONG_TYPE
      at = content
    } else if (major === 3 && header(bytes, valueAt) && content + argument <= bytes.length) {
      const end = content + argument
      if (field === 'id') head.id = argument <= 128 ? bytes.toString('utf8', content, end) : WRONG_TYPE // ≤ 128 bytes
      else if (field === 'reply') head.reply = bytes.toString('utf8', content, end)
      else if (field === 'timeout') head.timeout = WRONG_TYPE
      at = end
    } else if (major === 7 && (initial & 0x1f) >= 25 && (initial & 0x1f) <= 27 && header(bytes, valueAt)) {
      if (field === 'timeout') head.timeout = floatAt(bytes, valueAt)
      else if (field !== undefined) head[field] = WRONG_TYPE
      at = content
    } else {
      if (field !== undefined) head[field] = WRONG_TYPE
      if (stoppedAt < 0) stoppedAt = at
      if (leading) break
      if (major === 2 && (initial & 0x1f) !== 31) {
        // a byte string of definite length (a trace context's ids: two in every traced request) is skipped
        // here by its length, as cborItemEnd would skip it
        at = header(bytes, valueAt) && argument <= bytes.length - content ? content + argument : TRUNCATED
      } else {
        // a value of the envelope may nest one level less than the payload (codec.ts decodeCbor's limit); one
        // nested deeper is skipped all the same, up to SKIP_DEPTH, so that the keys after it are read
        at = cborItemEnd(bytes, valueAt, MAX_DEPTH - 1)
        if (at === TOO_DEEP) {
          head.tooDeep = true
          at = cborItemEnd(bytes, valueAt, SKIP_DEPTH)
        }
      }
      if (at < 0) break
    }
  }
  // a field given twice is no field: decoders keep the last, this reader the first, and a request or reply
  // read one way by the broker and the other by its receiver would answer a call it was not given (issue 10
  // reviews 4 and 5)
  if (ids > 1) head.id = WRONG_TYPE
  if (replies > 1) head.reply = WRONG_TYPE
  if (timeouts > 1) head.timeout = WRONG_TYPE
  // read whole, the map must be nothing but entries keyed by text, ending where the bytes do
  if (!leading && (!complete || at !== bytes.length)) head.ambiguous = true
  return head
}
