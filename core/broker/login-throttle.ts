// Password guessing over the network, slowed down without locking anyone out. scrypt makes each check cost
// 16 MiB and ≈ 50 ms of a thread-pool thread (a few hundred on a small board), and a script can keep trying
// for ever; but whoever guesses may share an address with the real operator (everyone on 127.0.0.1), so
// nothing here refuses a check for a failure: failures only make checks wait. What an attacker can still do
// is in docs/security.md ("Logins").
//
// Per address: checks run at most `checksPerSecond` (bursts of `burst`); one past the rate waits its turn
// instead of being refused; at most `inFlight` wait or run at once, and a CONNECT past that gets CONNACK 3
// (so the address's waiting checks hold at most `inFlight` of its pending connections). Per user name, all
// addresses together: past `userFailures` failures (each within `windowMs` of the last), its checks are
// spaced `backoffMs` apart, doubled per further failure up to `maxBackoffMs`: guesses at one user are
// bounded however many addresses they come from, and its operator's own login waits at most its turn.
// A wait is a reservation taken when the CONNECT arrives, so CONNECTs sent at once get no more checks than
// the same CONNECTs sent one after another.

export const LOGIN_THROTTLE = {
  checksPerSecond: 4,
  burst: 20,
  inFlight: 8,
  userFailures: 10,
  windowMs: 60_000,
  backoffMs: 250,
  maxBackoffMs: 2000,
}

export type LoginLimits = typeof LOGIN_THROTTLE

/** addresses and user names remembered at once: a scan from many addresses, or of many names, cannot grow them without bound */
const REMEMBERED = 4096

export interface LoginThrottle {
  /**
   * A password check of `user` from `address` (undefined on a Unix socket) is asked for: in how many ms it may
   * run (0: now), or null when the address has `inFlight` checks waiting or running already. A check granted
   * counts as in flight until `settle`.
   */
  begin (address: string | undefined, user: string): number | null
  /** A check begun settled; true when its failure puts the user past its failures (its checks now wait). */
  settle (address: string | undefined, user: string, failed: boolean): boolean
  /** checks that had to wait, CONNECTs refused past `inFlight`, and user names whose checks are spaced now */
  counts (): { delayed: number, busy: number, usersBackingOff: number }
}

interface AddressEntry { tokens: number, last: number, inFlight: number }
interface UserEntry { failures: number, lastFailure: number, nextAt: number }

export function createLoginThrottle (now: () => number = Date.now, limits: LoginLimits = LOGIN_THROTTLE): LoginThrottle {
  const byAddress = new Map<string, AddressEntry>()
  const byUser = new Map<string, UserEntry>()
  let delayed = 0
  let busy = 0

  const addressEntry = (address: string, t: number): AddressEntry => {
    let entry = byAddress.get(address)
    if (entry === undefined) {
      // an address with checks in flight is kept, else forgetting it would free their slots (at most the
      // broker's pending connections have checks in flight, far fewer than REMEMBERED)
      if (byAddress.size >= REMEMBERED) forgetFirst(byAddress, e => e.inFlight === 0, false)
      entry = { tokens: limits.burst, last: t, inFlight: 0 }
      byAddress.set(address, entry)
    }
    entry.tokens = Math.min(limits.burst, entry.tokens + ((t - entry.last) * limits.checksPerSecond) / 1000)
    entry.last = t
    return entry
  }
  /** the user's entry, its failures forgotten once `windowMs` passed since the last one */
  const userEntry = (user: string, t: number): UserEntry | undefined => {
    const entry = byUser.get(user)
    if (entry !== undefined && t - entry.lastFailure > limits.windowMs) {
      byUser.delete(user)
      return undefined
    }
    return entry
  }
  const backoff = (failures: number): number =>
    Math.min(limits.maxBackoffMs, limits.backoffMs * 2 ** Math.min(30, failures - limits.userFailures))

  return {
    begin (address, user) {
      const t = now()
      let wait = 0
      if (address !== undefined) {
        const entry = addressEntry(address, t)
        if (entry.inFlight >= limits.inFlight) {
          busy++
          return null
        }
        entry.inFlight++
        entry.tokens -= 1 // a token, or a reservation of the next one
        if (entry.tokens < 0) wait = Math.ceil((-entry.tokens * 1000) / limits.checksPerSecond)
      }
      const spaced = userEntry(user, t)
      if (spaced !== undefined && spaced.failures >= limits.userFailures) {
        const start = Math.max(t + wait, spaced.nextAt)
        spaced.nextAt = start + backoff(spaced.failures)
        wait = start - t
      }
      if (wait > 0) delayed++
      return wait
    },

    settle (address, user, failed) {
      const t = now()
      if (address !== undefined) {
        const entry = byAddress.get(address)
        if (entry !== undefined) entry.inFlight = Math.max(0, entry.inFlight - 1)
      }
      // a success forgets nothing: else the operator's own logins would give a guesser new free tries
      if (!failed) return false
      let entry = userEntry(user, t)
      if (entry === undefined) {
        if (byUser.size >= REMEMBERED) forgetFirst(byUser, e => e.failures < limits.userFailures, true)
        entry = { failures: 0, lastFailure: t, nextAt: t }
      }
      byUser.delete(user) // re-inserted last: the oldest entries are the first forgotten
      byUser.set(user, entry)
      entry.failures++
      entry.lastFailure = t
      return entry.failures === limits.userFailures
    },

    counts () {
      let usersBackingOff = 0
      const t = now()
      for (const [user] of byUser) if ((userEntry(user, t)?.failures ?? 0) >= limits.userFailures) usersBackingOff++
      return { delayed, busy, usersBackingOff }
    },
  }
}

/** forgets the first (oldest) entry that `idle` allows; when none does, the very first if `orFirst` */
function forgetFirst<T> (map: Map<string, T>, idle: (entry: T) => boolean, orFirst: boolean): void {
  for (const [key, entry] of map) {
    if (idle(entry)) {
      map.delete(key)
      return
    }
  }
  const first = map.keys().next()
  if (orFirst && first.done !== true) map.delete(first.value)
}
