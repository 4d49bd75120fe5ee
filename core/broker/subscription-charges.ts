// What a SUBSCRIBE or UNSUBSCRIBE costs its client. Subscribing costs the broker more than a publish, so each
// filter draws one token on the client's rate bucket (limits.ts), charged per packet: Aedes asks
// authorizeSubscribe once per filter, all in one go, so those calls are gathered until the microtask after
// them, and a throttled packet waits on one timer, dropped if its connection closes (review 8: a timer per
// filter let one viewer's SUBSCRIBEs hold 545 MiB after its connections were gone). Aedes asks nothing before an
// UNSUBSCRIBE: its filters are charged after, and since that cannot wait, a client owing more than a burst
// goes. A packet naming more filters than a client may hold (MAX_SUBSCRIPTIONS) is refused at once.
import type net from 'node:net'
import type { Client } from 'aedes'
import { MAX_SUBSCRIPTIONS } from './limits.js'
import type { RateGate } from './limits.js'

export interface SubscriptionCharges {
  /**
   * One filter of a SUBSCRIBE: `decide` runs once its packet is paid for; otherwise `fail` runs (for each
   * filter) and `refused` once per packet, with why: the client is then disconnected.
   */
  charge (client: Client, decide: () => void, fail: (error: Error) => void): void
  /** An UNSUBSCRIBE of `count` filters was handled: null, or why the client must go. */
  unsubscribed (client: Client, count: number): string | null
}

interface Filter { decide: () => void, fail: (error: Error) => void }

const tooMany = (what: string, count: number): string => `${what} named ${count} filters, more than a client may hold (${MAX_SUBSCRIPTIONS}): the client is disconnected`
const OVER_RATE = 'over the listener\'s rate limit: the client is disconnected'

export function subscriptionCharges (gateOf: (client: Client) => RateGate | undefined, refused: (client: Client, why: string) => void): SubscriptionCharges {
  const gathering = new Map<Client, Filter[]>()

  const settle = (client: Client): void => {
    const filters = gathering.get(client) as Filter[]
    gathering.delete(client)
    const gate = gateOf(client)
    const why = filters.length > MAX_SUBSCRIPTIONS ? tooMany('a SUBSCRIBE', filters.length) : null
    const wait = why !== null ? -1 : gate === undefined ? 0 : gate.take(filters.length)
    if (wait === 0) {
      for (const filter of filters) filter.decide()
      return
    }
    if (wait < 0) {
      refused(client, why ?? OVER_RATE)
      const error = new Error(`${client.id}: ${why ?? OVER_RATE}`)
      for (const filter of filters) filter.fail(error)
      return
    }
    const conn = (client as unknown as { conn: net.Socket }).conn
    const gone = (): void => clearTimeout(timer)
    const timer = setTimeout(() => {
      conn.off('close', gone)
      for (const filter of filters) filter.decide()
    }, wait)
    conn.once('close', gone)
  }

  return {
    charge (client, decide, fail) {
      let filters = gathering.get(client)
      if (filters === undefined) {
        gathering.set(client, filters = [])
        queueMicrotask(() => settle(client))
      }
      filters.push({ decide, fail })
    },
    unsubscribed (client, count) {
      if (count > MAX_SUBSCRIPTIONS) return tooMany('an UNSUBSCRIBE', count)
      const gate = gateOf(client)
      return gate === undefined || gate.owe(count) ? null : OVER_RATE
    },
  }
}
