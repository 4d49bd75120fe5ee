// Logged-in connections of one listener against its limits (limits.ts ListenerLimits): maxClients in all,
// maxClientsPerUser for each operator user, and the admin reserve, the last slots of maxClients that only
// admins may take, so that viewers cannot fill the listener against its admins. A module instance has one
// connection at most (its credential is bound to its client id, and the same id takes its session over);
// anonymous clients are admins, and whoever is local: the per-user limit does not count them.
import { describe, isAdmin } from './access.js'
import type { Identity } from './access.js'
import type { ListenerLimits } from './limits.js'

export type ClientLimit = 'maxClients' | 'maxClientsPerUser' | 'adminReserve'

/** refusals at a limit are logged once per this window (and user), and counted always */
export const REFUSAL_LOG_WINDOW_MS = 60_000

export interface ClientSlots {
  /**
   * null when a client with `clientId` may connect now; else the limit it meets and why. Before its password
   * is checked (no identity) only maxClients is asked; once it is known, its user's limit and the reserve
   * too. A takeover of a client id connected here is not a new client.
   */
  refusal (clientId: string, identity?: Identity): { limit: ClientLimit, why: string } | null
  /** the client holds a slot until `closed` calls back */
  hold (clientId: string, identity: Identity, closed: (release: () => void) => void): void
  /** a refusal at `limit` happened: counted; true when it is the first for that limit (and user) in its window, to be logged */
  refused (limit: ClientLimit, identity: Identity | undefined, now?: number): boolean
  readonly counts: Record<ClientLimit, number>
  /** clients logged in through the listener now */
  readonly connected: number
}

export function clientSlots (limits: ListenerLimits): ClientSlots {
  let connected = 0
  const byId = new Map<string, number>() // connections by client id (two of one id while a takeover closes the old)
  const byUser = new Map<string, number>() // operator users with connections here
  const counts: Record<ClientLimit, number> = { maxClients: 0, maxClientsPerUser: 0, adminReserve: 0 }
  const logged = new Map<string, number>() // `<limit> <user>` → when last logged: at most 3 × (the manifest's users + 1)
  const decrement = (map: Map<string, number>, key: string): void => {
    const n = (map.get(key) ?? 1) - 1
    if (n === 0) map.delete(key)
    else map.set(key, n)
  }
  return {
    counts,
    get connected () { return connected },
    refusal (clientId, identity) {
      const ofUser = identity?.kind === 'operator' ? byUser.get(identity.user) ?? 0 : 0
      if ((connected < limits.maxClients - limits.adminReserve && ofUser < limits.maxClientsPerUser) || byId.has(clientId)) return null
      if (connected >= limits.maxClients) return { limit: 'maxClients', why: `the listener has its maximum of ${limits.maxClients} clients` }
      if (identity === undefined) return null
      if (ofUser >= limits.maxClientsPerUser && identity.kind === 'operator') {
        return { limit: 'maxClientsPerUser', why: `operator ${identity.user} has its maximum of ${limits.maxClientsPerUser} connections on this listener` }
      }
      if (connected >= limits.maxClients - limits.adminReserve && !isAdmin(identity)) {
        return { limit: 'adminReserve', why: `the listener's last ${limits.adminReserve} of ${limits.maxClients} client slots are kept for admins, and ${describe(identity)} is not one` }
      }
      return null
    },
    hold (clientId, identity, closed) {
      connected++
      byId.set(clientId, (byId.get(clientId) ?? 0) + 1)
      const user = identity.kind === 'operator' ? identity.user : undefined
      if (user !== undefined) byUser.set(user, (byUser.get(user) ?? 0) + 1)
      closed(() => {
        connected--
        decrement(byId, clientId)
        if (user !== undefined) decrement(byUser, user)
      })
    },
    refused (limit, identity, now = Date.now()) {
      counts[limit]++
      const key = `${limit} ${identity?.kind === 'operator' ? identity.user : ''}`
      if (now - (logged.get(key) ?? -Infinity) < REFUSAL_LOG_WINDOW_MS) return false
      logged.set(key, now)
      return true
    },
  }
}
