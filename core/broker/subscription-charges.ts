// What a SUBSCRIBE or UNSUBSCRIBE costs its client. Subscribing costs the broker more than a publish, so each
// filter draws one token on the client's rate bucket (limits.ts). Aedes asks authorizeSubscribe once per
// filter, for every SUBSCRIBE of a read at once, so those calls are gathered until the microtask after them
// and charged together: throttled, they wait as one in the client's wait line (wait-line.ts: one timer per
// client, dropped when its connection closes; review 8: a timer per filter let one viewer's SUBSCRIBEs hold
// 545 MiB after its connections were gone). SUBSCRIBEs of one read naming more distinct filters than a client
// may hold (MAX_SUBSCRIPTIONS) are refused at once, and the client disconnected: no client needs them, and each
// costs a check. Aedes asks nothing before an UNSUBSCRIBE: its filters are charged after (RateGate.owe), and
// under throttle each connection's are held to the rate on a bucket of its own besides.
import type { Client } from 'aedes'
import { MAX_SUBSCRIPTIONS, rateGate } from './limits.js'
import type { RateGate } from './limits.js'
import type { WaitLines } from './wait-line.js'

export interface SubscriptionCharges {
  /**
   * One filter of a SUBSCRIBE: `decide` runs once it is paid for; otherwise `fail` runs (for each filter of
   * the read) and `refused` once, with why: the client is then disconnected.
   */
  charge (client: Client, filter: string, decide: () => void, fail: (error: Error) => void): void
  /** An UNSUBSCRIBE of `count` filters was handled: null, or why the client must go. */
  unsubscribed (client: Client, count: number): string | null
  /** whether SUBSCRIBE filters of the client's current read are being gathered (settled at the next microtask) */
  gathering (client: Client): boolean
}

interface Filter { filter: string, decide: () => void, fail: (error: Error) => void }

const tooMany = (what: string, count: number): string => `${what} named ${count} filters, more than a client may hold (${MAX_SUBSCRIPTIONS}): the client is disconnected`
const OVER_RATE = 'over the listener\'s rate limit: the client is disconnected'

export function subscriptionCharges (gateOf: (client: Client) => RateGate | undefined, waiting: WaitLines, refused: (client: Client, why: string) => void): SubscriptionCharges {
  const gathering = new Map<Client, Filter[]>()
  const unsubscribing = new WeakMap<Client, RateGate>()

  const settle = (client: Client): void => {
    const filters = gathering.get(client) as Filter[]
    gathering.delete(client)
    const distinct = filters.length > MAX_SUBSCRIPTIONS ? new Set(filters.map(f => f.filter)).size : filters.length
    const fail = (why: string): void => {
      refused(client, why)
      const error = new Error(`${client.id}: ${why}`)
      for (const filter of filters) filter.fail(error)
    }
    if (distinct > MAX_SUBSCRIPTIONS) return fail(tooMany('SUBSCRIBEs of one read', distinct))
    const decideAll = (): void => { for (const filter of filters) filter.decide() }
    const gate = gateOf(client)
    if (gate === undefined) return decideAll()
    if (!waiting.admit(client, gate, filters.length, decideAll)) fail(OVER_RATE)
  }

  return {
    charge (client, filter, decide, fail) {
      let filters = gathering.get(client)
      if (filters === undefined) {
        gathering.set(client, filters = [])
        queueMicrotask(() => settle(client))
      }
      filters.push({ filter, decide, fail })
    },
    gathering: client => gathering.has(client),
    unsubscribed (client, count) {
      if (count > MAX_SUBSCRIPTIONS) return tooMany('an UNSUBSCRIBE', count)
      const gate = gateOf(client)
      if (gate === undefined) return null
      if (!gate.owe(count)) return OVER_RATE
      if (gate.limit.action === 'disconnect') return null
      // under throttle the shared bucket's debt from UNSUBSCRIBEs stops at a burst, so past it they would cost
      // nothing (review 8: 2.3 million filters a second on a 100/s listener): each connection's are also held to
      // the rate on a bucket of its own, and past it that connection goes, not its user's others
      let own = unsubscribing.get(client)
      if (own === undefined) unsubscribing.set(client, own = rateGate({ ...gate.limit, action: 'disconnect' }))
      return own.take(count) < 0 ? `unsubscribing from more filters than the listener's rate (${gate.limit.messagesPerSecond} a second, bursts of ${gate.limit.burst}): the client is disconnected` : null
    },
  }
}
