// Password guessing over the network, slowed down: scrypt already makes each guess cost ≈ 50 ms of a
// thread-pool thread, but a script can keep trying for ever. After FAILURES failed logins from one address
// within WINDOW_MS, that address's next connections are refused without a look at their password for
// BLOCK_MS (one log line per block, not one per attempt). Per address, not per user: per user would let
// anyone lock an operator out.

export const LOGIN_THROTTLE = { failures: 5, windowMs: 60_000, blockMs: 60_000 }
/** addresses remembered at once: a scan from many addresses cannot grow the table without bound */
const ADDRESSES = 4096

export interface LoginThrottle {
  /** null when the address may try to log in; else how long it is still refused, in ms */
  refusedFor (address: string): number | null
  /**
   * A failed login from the address; true when this failure starts a block. (A success forgets nothing:
   * else one valid viewer account would let its holder go on guessing the admin's password.)
   */
  failed (address: string): boolean
}

export function createLoginThrottle (now: () => number = Date.now, limits = LOGIN_THROTTLE): LoginThrottle {
  const byAddress = new Map<string, { failures: number, since: number, blockedUntil: number }>()
  return {
    refusedFor (address) {
      const entry = byAddress.get(address)
      if (entry === undefined) return null
      const left = entry.blockedUntil - now()
      return left > 0 ? left : null
    },
    failed (address) {
      const t = now()
      let entry = byAddress.get(address)
      if (entry === undefined || t - entry.since > limits.windowMs || (entry.blockedUntil > 0 && entry.blockedUntil <= t)) {
        if (entry === undefined && byAddress.size >= ADDRESSES) byAddress.delete(byAddress.keys().next().value as string)
        entry = { failures: 0, since: t, blockedUntil: 0 }
        byAddress.delete(address) // re-inserted last: the oldest entries are the first to go
        byAddress.set(address, entry)
      }
      entry.failures++
      if (entry.failures < limits.failures || entry.blockedUntil > t) return false
      entry.blockedUntil = t + limits.blockMs
      return true
    },
  }
}
