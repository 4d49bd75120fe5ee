// A reply goes up to a fleet operator as the module sent it, with only its top-level `id` replaced by the id
// of the operator's request (the module answered the uplink's own): results and errors reach the operator
// byte for byte. Decoding a reply and encoding it again cost the uplink several times its size in garbage, and
// a core.logs answer is up to ≈ 6.5 MiB. In CBOR the map's entries are walked by their heads
// (envelope-head.ts) and the reply is given back as the pieces around each `id` value with the new one in
// its place, which the upstream's writer copies into the packet, or hands to the socket as they are when large:
// nothing is copied here. JSON is decoded and
// encoded again instead: a module answers in JSON only if it ignores the request's format (the uplink asks in
// CBOR), and an operator who asked in JSON gets the CBOR reply turned into JSON, which no splice can do.
import { MAX_DEPTH, decode, encode, encodeCbor, sniffFormat } from '../../core/protocol/codec.js'
import type { WireFormat } from '../../core/protocol/codec.js'
import { cborItemEnd, itemHead } from '../../core/protocol/envelope-head.js'
import type { CorrelationId } from '../../core/protocol/envelope.js'

const TEXT = 3
const MAP = 5
const INDEFINITE_MAP = 0xbf
const BREAK = 0xff

/** The reply with `id` as its id, in `format`, as pieces to write one after the other; null when it is not a map keyed by text with an id, ending where the bytes do. */
export function withReplyId (reply: Buffer, id: CorrelationId, format: WireFormat): Buffer[] | null {
  return transcodes(reply, format) ? reencode(reply, id, format) : spliceCborId(reply, id)
}

/** whether withReplyId decodes the reply and encodes it again: the request was in JSON, or the reply is */
export function transcodes (reply: Buffer, format: WireFormat): boolean {
  return format !== 'cbor' || sniffFormat(reply) !== 'cbor'
}

function spliceCborId (reply: Buffer, id: CorrelationId): Buffer[] | null {
  if ((reply[0] ?? 0) >> 5 !== MAP) return null
  let count = Number.POSITIVE_INFINITY
  let at = 1
  if (reply[0] !== INDEFINITE_MAP) {
    const head = itemHead(reply, 0)
    if (head === null) return null
    count = head.argument
    at = head.content
  }
  // where each top-level `id` value starts and ends: all of them, as a decoder takes the last of duplicates
  const ids: Array<[number, number]> = []
  for (let entry = 0; entry < count; entry++) {
    if (count === Number.POSITIVE_INFINITY && reply[at] === BREAK) {
      at++
      break
    }
    // a key that is not text (a byte string, a tag around "id") could be read as `id` by the operator's
    // decoder, keeping the module's own id: the broker lets no such reply through, and neither does this
    if ((reply[at] ?? 0) >> 5 !== TEXT) return null
    const keyEnd = cborItemEnd(reply, at, MAX_DEPTH)
    if (keyEnd < 0) return null
    const valueEnd = cborItemEnd(reply, keyEnd, MAX_DEPTH)
    if (valueEnd < 0) return null
    if (isIdKey(reply, at)) ids.push([keyEnd, valueEnd])
    at = valueEnd
  }
  if (at !== reply.length || ids.length === 0) return null
  const value = encodeCbor(id)
  const parts: Buffer[] = []
  let from = 0
  for (const [start, end] of ids) {
    parts.push(reply.subarray(from, start), value)
    from = end
  }
  parts.push(reply.subarray(from))
  return parts
}

/** the key at `at` is the text "id", in any of the lengths CBOR may spell its head with */
function isIdKey (bytes: Buffer, at: number): boolean {
  const head = itemHead(bytes, at)
  return head !== null && head.major === TEXT && head.argument === 2 && bytes[head.content] === 0x69 && bytes[head.content + 1] === 0x64
}

function reencode (reply: Buffer, id: CorrelationId, format: WireFormat): Buffer[] | null {
  try {
    const body = decode(reply, sniffFormat(reply))
    if (body === null || typeof body !== 'object' || Array.isArray(body) || body instanceof Uint8Array || !('id' in body)) return null
    return [encode({ ...body, id }, format)] // the id keeps its place among the keys
  } catch {
    return null
  }
}
