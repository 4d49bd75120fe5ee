// A gateway's retained status on a fleet's upstream broker (`<root>/<fleet id>/status`, docs/fleet.md), as
// the fleet CLI reads it: to refuse a gateway that is unknown or offline at once, and for `outpost fleet ls`.
import { decodeCbor } from '../protocol/codec.js'

export interface FleetStatus {
  /** online or offline, as the uplink says; `unreadable` when the payload is not a status document */
  state: string
  version?: string
  /** when the uplink sent it (ms since the epoch); absent in the Last Will, which was written at connect */
  ts?: number
  /** when that uplink process started */
  since?: number
  modules?: { total: number, running: number }
  queue?: { records: number, bytes: number, dropped: { full: number, age: number, tooLarge: number } }
}

/**
 * An uplink's status is a few hundred bytes; one larger than this is read as `unreadable`, so that what the
 * CLI holds per gateway is bounded whatever the upstream sends.
 */
export const MAX_STATUS_BYTES = 4096

/** undefined for a cleared retained message (an empty payload) */
export function readStatus (payload: Buffer): FleetStatus | undefined {
  if (payload.length === 0) return undefined
  if (payload.length > MAX_STATUS_BYTES) return { state: 'unreadable' }
  try {
    const doc = decodeCbor(payload) as Record<string, unknown> | null
    if (doc !== null && typeof doc === 'object' && typeof doc.state === 'string') return doc as unknown as FleetStatus
  } catch {}
  return { state: 'unreadable' }
}
