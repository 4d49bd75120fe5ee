// Which refused subscriptions are logged. A refusal leaves its client connected, and a SUBSCRIBE may name
// hundreds of filters, so one client's refusals are told once per window for each kind of filter (by its
// first level: reply/, rpc/, $SYS/, a leading wildcard, or any other), and the rest only counted: an
// attempt on replies or on the broker's own topics is never hidden behind a flood of ordinary ones, and what
// was counted is told with the next refusal logged of its kind, or when the client goes (review 7: one
// viewer wrote 35,000 log lines a second; review 8: the folding hid a later reply/# attempt, and lost its count).
import type { Client } from 'aedes'

/** the kinds of filter whose refusals are folded apart */
const KINDS = new Set(['reply', 'rpc', '$SYS', '+', '#'])

interface Folded { until: number, unlogged: number }

export interface RefusalLog {
  /** a subscription to `filter` was refused for `why`: told now (the returned text), or counted (null) */
  refused (client: Client, filter: string, why: string): string | null
  /** the client is gone: what is still only counted, one text per kind of filter */
  gone (client: Client): string[]
}

export function refusalLog (windowMs: number, now: () => number = Date.now): RefusalLog {
  const folded = new WeakMap<Client, Map<string, Folded>>()
  const kindOf = (filter: string): string => {
    const first = filter.split('/', 1)[0] as string
    return KINDS.has(first) ? first : first.startsWith('$') ? '$' : 'other'
  }
  const under = (kind: string): string => kind === 'other' ? 'other filters' : kind === '+' || kind === '#' || kind === '$' ? `filters starting with ${kind}` : `filters under ${kind}/`
  return {
    refused (client, filter, why) {
      let kinds = folded.get(client)
      if (kinds === undefined) folded.set(client, kinds = new Map())
      const kind = kindOf(filter)
      const t = now()
      const last = kinds.get(kind)
      if (last !== undefined && t < last.until) {
        last.unlogged++
        return null
      }
      kinds.set(kind, { until: t + windowMs, unlogged: 0 })
      const since = last === undefined || last.unlogged === 0 ? '' : `; ${last.unlogged} more refused since the last one told`
      return `${why} (further refused subscriptions to ${under(kind)} of this client within ${windowMs / 1000} s are counted, not logged${since})`
    },
    gone (client) {
      const kinds = folded.get(client)
      folded.delete(client)
      if (kinds === undefined) return []
      return [...kinds].filter(([, f]) => f.unlogged > 0).map(([kind, f]) => `${f.unlogged} more subscription(s) to ${under(kind)} were refused since the last one told`)
    },
  }
}
