// The upstream topic map (docs/fleet.md, "Topics"): everything under `<root>/<fleet id>/`.
import { encodeCbor, MAX_DEPTH } from '../../core/protocol/codec.js'
import { cborItemEnd } from '../../core/protocol/envelope-head.js'

export const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/

export interface FleetTopics {
  prefix: string
  /** retained gateway status; also the Last Will (offline) */
  status: string
  /** the one subscription that comes down: rpc/<module>/<method>/<operator> */
  requests: string
  /** a local topic (hooks/…, state/…, presence/…) as it goes up */
  up: (localTopic: string) => string
  /** where an operator's replies go: `<prefix>/reply/<operator>/<token>` */
  replyPrefix: (operator: string) => string
}

export function fleetTopics (root: string, fleetId: string): FleetTopics {
  const prefix = `${root}/${fleetId}`
  return {
    prefix,
    status: `${prefix}/status`,
    requests: `${prefix}/rpc/#`,
    up: localTopic => `${prefix}/${localTopic}`,
    replyPrefix: operator => `${prefix}/reply/${operator}/`,
  }
}

const SEQ_KEY = encodeCbor('seq')
/** the keys seqStamp adds: the uplink vouches for them, so no hook envelope may carry them (docs/fleet.md) */
export const STAMPED_KEYS = ['seq', 'q'] as const
const STAMPED = STAMPED_KEYS.map(k => Buffer.from(k))

/**
 * What the uplink makes of a hook envelope before it goes up or is stored: `ok` for a CBOR map of < 22
 * entries (what seqStamp can stamp) that ends where the payload does; `reserved` when one of its keys is a
 * key the uplink stamps (a module claiming another record's `seq`, which receivers would drop as a
 * duplicate: refused rather than rewritten, so a stored hook is still stamped by splicing, never decoded);
 * else `malformed`. The walk reads the keys' bytes and skips the values, allocating nothing.
 */
export function checkHookEnvelope (payload: Buffer): 'ok' | 'reserved' | 'malformed' {
  const head = payload[0]
  if (head === undefined || head < 0xa0 || head > 0xb5) return 'malformed'
  let at = 1
  for (let entry = 0; entry < head - 0xa0; entry++) {
    const keyEnd = cborItemEnd(payload, at, MAX_DEPTH)
    if (keyEnd < 0) return 'malformed'
    if (isStampedKey(payload, at, keyEnd)) return 'reserved'
    at = cborItemEnd(payload, keyEnd, MAX_DEPTH)
    if (at < 0) return 'malformed'
  }
  return at === payload.length ? 'ok' : 'malformed'
}

/** a text key, in any of CBOR's length encodings, equal to one of STAMPED_KEYS */
function isStampedKey (bytes: Buffer, at: number, end: number): boolean {
  const initial = bytes[at] as number
  if (initial >> 5 !== 3) return false
  const info = initial & 0x1f
  const content = at + 1 + (info < 24 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 8)
  return STAMPED.some(key => end - content === key.length && key.equals(bytes.subarray(content, end)))
}

/** CBOR bytes of an unsigned integer as the codec writes it (major type 0 up to 32 bits) */
function uintBytes (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffffffff ? 5 : encodeCbor(n).length
}

/**
 * A stored hook goes up as its local envelope (a CBOR map) with `seq` and `q` (the queue's id) added, so a
 * receiver drops duplicates by (gateway, q, seq). The two entries are spliced in front of the map's own, so
 * the hook's bytes are not decoded and encoded again, and `q` is encoded once per queue. The stamp answers
 * undefined if the payload is not a CBOR map of < 22 entries.
 */
export function seqStamp (queueId: string): (body: Buffer, seq: number) => Buffer | undefined {
  const q = encodeCbor({ q: queueId }).subarray(1) // the entry without its map's head
  return (body, seq) => {
    const head = body[0]
    if (head === undefined || head < 0xa0 || head > 0xb5) return undefined
    const seqBytes = uintBytes(seq)
    const out = Buffer.allocUnsafe(1 + SEQ_KEY.length + seqBytes + q.length + body.length - 1)
    out[0] = head + 2
    let at = 1 + SEQ_KEY.copy(out, 1)
    if (seq < 24) out[at] = seq
    else if (seq < 0x100) {
      out[at] = 0x18
      out[at + 1] = seq
    } else if (seq < 0x10000) {
      out[at] = 0x19
      out.writeUInt16BE(seq, at + 1)
    } else if (seq <= 0xffffffff) {
      out[at] = 0x1a
      out.writeUInt32BE(seq, at + 1)
    } else encodeCbor(seq).copy(out, at)
    at += seqBytes
    at += q.copy(out, at)
    body.copy(out, at, 1)
    return out
  }
}
