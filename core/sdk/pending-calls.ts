// The calls a module is waiting on, by correlation id, with one timer for all their deadlines. A setTimeout
// per call was the costliest part of a call's bookkeeping (≈ 8 µs of a sequential round trip in the RPC
// benchmark): Node keeps a timer list per duration and, with one call at a time, creates and drops the list
// (starting and stopping a libuv timer) on every call. Here the timer is moved only when a new call's
// deadline is earlier than the one it is set for; when it fires, it fails the calls that are due and is set
// again for the earliest deadline still pending, if any (a timer whose calls were all answered meanwhile
// fires once, finds nothing due, and stops).
import type { CorrelationId } from '../protocol/envelope.js'

export interface Deadlined {
  /** when the call times out, on the performance.now() clock (monotonic: a wall-clock step cannot fire it) */
  deadline: number
}

export interface PendingCalls<T extends Deadlined> {
  add (id: CorrelationId, call: T): void
  /** removes the call and returns it, or undefined if it is not pending (answered, timed out, unknown) */
  take (id: CorrelationId): T | undefined
  /** the call, left pending: a reply may be looked at before it is decoded */
  peek (id: CorrelationId): T | undefined
  /** removes every pending call and returns them */
  drain (): T[]
}

/**
 * Node starts a timer from the event loop's cached time, which can be a little behind performance.now(),
 * so a timer may fire up to a millisecond before the deadline it was set for: a call due within that is
 * failed now rather than by another timer a moment later (a timer per call behaved the same).
 */
const EARLY_MS = 1
/** the longest delay setTimeout takes; beyond it, Node fires after 1 ms */
const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * `onTimeout` receives each call that reached its deadline, already removed. The timer does not keep the
 * process alive: the broker connection does, and a call is only made on an open connection.
 */
export function pendingCalls<T extends Deadlined> (onTimeout: (call: T) => void): PendingCalls<T> {
  const calls = new Map<CorrelationId, T>()
  let timer: NodeJS.Timeout | undefined
  /** the deadline the timer is set for; Infinity when it is not set */
  let armedFor = Infinity

  const arm = (deadline: number, now: number): void => {
    clearTimeout(timer)
    armedFor = deadline
    timer = setTimeout(expire, Math.min(Math.ceil(deadline - now), MAX_DELAY_MS))
    timer.unref()
  }

  const expire = (): void => {
    timer = undefined
    armedFor = Infinity
    const now = performance.now()
    let next = Infinity
    for (const [id, call] of calls) {
      if (call.deadline <= now + EARLY_MS) {
        calls.delete(id)
        onTimeout(call)
      } else if (call.deadline < next) next = call.deadline
    }
    if (next !== Infinity) arm(next, now)
  }

  return {
    add (id, call) {
      calls.set(id, call)
      if (call.deadline < armedFor) arm(call.deadline, performance.now())
    },
    take (id) {
      const call = calls.get(id)
      if (call !== undefined) calls.delete(id)
      return call
    },
    peek (id) {
      return calls.get(id)
    },
    drain () {
      const all = [...calls.values()]
      calls.clear()
      clearTimeout(timer)
      timer = undefined
      armedFor = Infinity
      return all
    },
  }
}
