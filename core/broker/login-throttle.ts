// Password guessing over the network, slowed down: scrypt already makes each guess cost ≈ 50 ms of a
// thread-pool thread, but a script can keep trying for ever. After FAILURES failed logins from one address
// within WINDOW_MS, that address's next connections are refused without a look at their password for
// BLOCK_MS (one log line per block, not one per attempt). Per address, not per user: per user would let
// anyone lock an operator out. Checks still running count as failures until they settle, so many CONNECTs
// sent at once from one address get no more guesses than the same CONNECTs sent one after another.

export const LOGIN_THROTTLE = { failures: 5, windowMs: 60_000, blockMs: 60_000 }
/** addresses remembered at once: a scan from many addresses cannot grow the table without bound */
const ADDRESSES = 4096

export interface LoginThrottle {
  /** null when the address may try to log in; else how long it is still refused, in ms */
  refusedFor (address: string): number | null
  /**
   * A password check from the address is about to run: false when the failures so far plus the checks still
   * running already reach the limit (this one must not run); true when it may, and then it counts as running
   * until `settle`.
   */
  begin (address: string): boolean
  /**
   * A check begun settled; true when its failure starts a block. (A success forgets nothing: else one valid
   * viewer account would let its holder go on guessing the admin's password.)
   */
  settle (address: string, failed: boolean): boolean
}

interface Entry { failures: number, since: number, blockedUntil: number, running: number }

export function createLoginThrottle (now: () => number = Date.now, limits = LOGIN_THROTTLE): LoginThrottle {
  const byAddress = new Map<string, Entry>()
  /** the address's entry for the current window, made anew when its window or block is over */
  const current = (address: string, t: number): Entry => {
    let entry = byAddress.get(address)
    if (entry === undefined || t - entry.since > limits.windowMs || (entry.blockedUntil > 0 && entry.blockedUntil <= t)) {
      if (entry === undefined && byAddress.size >= ADDRESSES) forgetOldestIdle()
      entry = { failures: 0, since: t, blockedUntil: 0, running: entry?.running ?? 0 }
      byAddress.delete(address) // re-inserted last: the oldest entries are the first to go
      byAddress.set(address, entry)
    }
    return entry
  }
  const forgetOldestIdle = (): void => {
    // an address with checks running is kept, else forgetting it would free their slots (at most the
    // broker's pending connections have checks running, far fewer than ADDRESSES)
    for (const [address, entry] of byAddress) {
      if (entry.running === 0) {
        byAddress.delete(address)
        return
      }
    }
  }
  return {
    refusedFor (address) {
      const entry = byAddress.get(address)
      if (entry === undefined) return null
      const left = entry.blockedUntil - now()
      return left > 0 ? left : null
    },
    begin (address) {
      const entry = current(address, now())
      if (entry.failures + entry.running >= limits.failures) return false
      entry.running++
      return true
    },
    settle (address, failed) {
      const t = now()
      const entry = current(address, t)
      entry.running = Math.max(0, entry.running - 1)
      if (!failed) return false
      entry.failures++
      if (entry.failures < limits.failures || entry.blockedUntil > t) return false
      entry.blockedUntil = t + limits.blockMs
      return true
    },
  }
}
