// What `outpost fleet ls` keeps of the statuses it reads: the first `limit` gateways by fleet id, and how
// many it saw past them, so that a listing that is cut says so. Its memory is bounded whatever the upstream
// sends: at most `limit` statuses (each at most MAX_STATUS_BYTES, fleet-status.ts), and at most
// MAX_UNSHOWN_NAMES names of gateways past the limit (a fleet id is at most 64 characters).
import { FLEET_ID } from '../manifest/fleet-names.js'
import type { FleetStatus } from './fleet-status.js'

/** names of gateways past the limit remembered to count each once; past this many the count is a floor */
export const MAX_UNSHOWN_NAMES = 100_000

export interface Listing {
  /** a status read (undefined: a cleared retained message) under `<root>/<gateway>/status` */
  put (gateway: string, status: FleetStatus | undefined): void
  /** the gateways kept, sorted by fleet id */
  rows (): Array<FleetStatus & { gateway: string }>
  /** gateways seen past the limit; `atLeast` when there were more than MAX_UNSHOWN_NAMES of them */
  unshown (): { count: number, atLeast: boolean }
  /** statuses under a name that is not a fleet id: no uplink writes one, so they are counted, not listed */
  notFleetIds (): number
}

export function createListing (limit: number): Listing {
  const kept = new Map<string, FleetStatus>()
  const names: string[] = [] // kept's names, sorted
  const past = new Set<string>()
  let pastFull = false
  let strange = 0
  const at = (name: string): number => { // where `name` is or would go in `names`
    let lo = 0
    let hi = names.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((names[mid] as string) < name) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const remember = (name: string): void => {
    if (past.size < MAX_UNSHOWN_NAMES) past.add(name)
    else if (!past.has(name)) pastFull = true
  }
  return {
    put (gateway, status) {
      if (!FLEET_ID.test(gateway)) {
        strange++
        return
      }
      if (status === undefined) {
        if (kept.delete(gateway)) names.splice(at(gateway), 1)
        else past.delete(gateway)
        return
      }
      if (kept.has(gateway)) {
        kept.set(gateway, status)
        return
      }
      const last = names[names.length - 1]
      if (kept.size >= limit) {
        if (last === undefined || gateway > last) return remember(gateway)
        kept.delete(last) // the last by fleet id makes room: it is counted with the rest past the limit
        names.pop()
        remember(last)
      }
      past.delete(gateway)
      kept.set(gateway, status)
      names.splice(at(gateway), 0, gateway)
    },
    rows: () => names.map(gateway => ({ gateway, ...(kept.get(gateway) as FleetStatus) })),
    unshown: () => ({ count: past.size, atLeast: pastFull }),
    notFleetIds: () => strange,
  }
}
