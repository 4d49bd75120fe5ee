// A gateway's retained status on a fleet's upstream broker (`<root>/<fleet id>/status`, docs/fleet.md), as
// the fleet CLI reads it: to refuse a gateway that is unknown or offline at once, and for `outpost fleet ls`.
// Whoever can write there (the gateway itself, or an account a loose ACL lets write) decides what it holds, so
// every field is checked here, the one place a status is read, before anything formats it.
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
  /** the fields present but not of their type or range, left out above: the status is malformed */
  malformed?: string[]
}

/**
 * An uplink's status is a few hundred bytes; one larger than this is read as `unreadable`, so that what the
 * CLI holds per gateway is bounded whatever the upstream sends.
 */
export const MAX_STATUS_BYTES = 4096

/** a state or a version longer than this is malformed (an uplink's are a word and a release version) */
const MAX_TEXT_CHARS = 64
/** the range of a JavaScript Date: a time outside it cannot be shown */
const MAX_TIME_MS = 8.64e15

type Doc = Record<string, unknown>

const isObject = (value: unknown): value is Doc => value !== null && typeof value === 'object' && !Array.isArray(value)
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isTime = (value: unknown): value is number => Number.isInteger(value) && Math.abs(value as number) <= MAX_TIME_MS
const isText = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_TEXT_CHARS

/** an object whose `keys` are all counts, else undefined */
function counts<K extends string> (value: unknown, keys: readonly K[]): Record<K, number> | undefined {
  if (!isObject(value) || !keys.every(k => isCount(value[k]))) return undefined
  return Object.fromEntries(keys.map(k => [k, value[k]])) as Record<K, number>
}

function checked (doc: Doc): FleetStatus {
  const status: Doc = { state: doc.state }
  const malformed: string[] = []
  // a field the uplink left out stays out; one present but wrong is left out and named
  const put = (key: string, value: unknown): void => {
    if (doc[key] === undefined) return
    if (value === undefined) malformed.push(key)
    else status[key] = value
  }
  put('version', isText(doc.version) ? doc.version : undefined)
  put('ts', isTime(doc.ts) ? doc.ts : undefined)
  put('since', isTime(doc.since) ? doc.since : undefined)
  put('modules', counts(doc.modules, ['total', 'running']))
  const queue = counts(doc.queue, ['records', 'bytes'])
  const dropped = isObject(doc.queue) ? counts(doc.queue.dropped, ['full', 'age', 'tooLarge']) : undefined
  put('queue', queue === undefined || dropped === undefined ? undefined : { ...queue, dropped })
  if (malformed.length > 0) status.malformed = malformed
  return status as unknown as FleetStatus
}

/** undefined for a cleared retained message (an empty payload) */
export function readStatus (payload: Buffer): FleetStatus | undefined {
  if (payload.length === 0) return undefined
  if (payload.length > MAX_STATUS_BYTES) return { state: 'unreadable' }
  let doc: unknown
  try {
    doc = decodeCbor(payload)
  } catch {
    return { state: 'unreadable' }
  }
  if (!isObject(doc) || typeof doc.state !== 'string') return { state: 'unreadable' }
  if (!isText(doc.state)) return { state: 'unreadable', malformed: ['state'] }
  return checked(doc)
}
