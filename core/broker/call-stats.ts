// What the RPC router counts of the calls to one module, for `rpc/core/metrics` (docs/observability.md):
// calls given to an instance, error replies by code, and how long each reply took to come back through the
// broker. The router already reads the clock when a request passes (its expiry) and when its reply does (is
// it late?), so the duration costs no extra clock read; recording it is a short loop over the bucket bounds.
import { decode } from '../protocol/codec.js'
import type { WireFormat } from '../protocol/codec.js'
import { errorCodes } from '../errors.js'

/** upper bounds of the duration histogram's buckets, in ms (the last bucket, +Inf, is implied) */
export const CALL_DURATION_BUCKETS_MS = [0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000]

/** an error code a module sent that is not one of the registry's (core/errors.ts): counted under this one */
export const OTHER_CODE = 'OTHER'

export interface CallStats {
  /** requests given to an instance of the module */
  calls: number
  /** error replies by code: the module's own, and those the router gave for it (UNAVAILABLE, TOO_MANY_CALLS, TIMEOUT) */
  errors: Map<string, number>
  /** replies that answered a call the module held, by bucket of CALL_DURATION_BUCKETS_MS (one more for +Inf), not cumulative */
  durations: number[]
  /** the sum of those durations, ms */
  durationMs: number
}

export function newCallStats (): CallStats {
  return { calls: 0, errors: new Map(), durations: new Array<number>(CALL_DURATION_BUCKETS_MS.length + 1).fill(0), durationMs: 0 }
}

export function countError (stats: CallStats, code: string): void {
  // a module chooses its codes: only the registry's are kept by name, so no module can grow this map
  const known = Object.hasOwn(errorCodes, code) ? code : OTHER_CODE
  stats.errors.set(known, (stats.errors.get(known) ?? 0) + 1)
}

export function countDuration (stats: CallStats, ms: number): void {
  let i = 0
  while (i < CALL_DURATION_BUCKETS_MS.length && ms > (CALL_DURATION_BUCKETS_MS[i] as number)) i++
  stats.durations[i] = (stats.durations[i] as number) + 1
  stats.durationMs += ms
}

// text(5) "error": the key the SDK writes right after `id` in an error reply
const ERROR_KEY = Buffer.from([0x65, 0x65, 0x72, 0x72, 0x6f, 0x72])

/**
 * Whether the CBOR map entry at `at` has the key `error` (at: envelope-head.ts leadingStop, the first entry
 * after the id whose value is not a number or text). A success reply's `result` fails at its first byte.
 */
export function errorKeyAt (payload: Buffer, at: number): boolean {
  if (at < 0 || at + ERROR_KEY.length > payload.length) return false
  for (let i = 0; i < ERROR_KEY.length; i++) if (payload[at + i] !== ERROR_KEY[i]) return false
  return true
}

/** the code of an error reply, decoded whole (only error replies come here) */
export function errorCodeOf (payload: Buffer, format: WireFormat): string | undefined {
  try {
    const reply = decode(payload, format) as { error?: { code?: unknown } } | null
    const code = reply?.error?.code
    return typeof code === 'string' ? code : undefined
  } catch {
    return undefined
  }
}
