// The upstream topic map (docs/fleet.md, "Topics"): everything under `<root>/<fleet id>/`.
import { encodeCbor } from '../../core/protocol/codec.js'

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

/**
 * A stored hook goes up as its local envelope (a CBOR map) with `seq` and `q` (the queue's id) added, so a
 * receiver drops duplicates by (gateway, q, seq). The two entries are spliced in front of the map's own, so
 * the hook's bytes are not decoded and encoded again. Undefined if the payload is not a CBOR map of < 22 entries.
 */
export function withSeq (body: Buffer, seq: number, queueId: string): Buffer | undefined {
  const head = body[0]
  if (head === undefined || head < 0xa0 || head > 0xb5) return undefined
  const added = encodeCbor({ seq, q: queueId })
  const out = Buffer.allocUnsafe(added.length + body.length - 1)
  out[0] = head + 2
  added.copy(out, 1, 1)
  body.copy(out, added.length, 1)
  return out
}
