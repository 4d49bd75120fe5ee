// Hooks each module instance published and was delivered, for `rpc/core/metrics`. The counts live in one
// small object per module client id, found once per connection (direct path: once per subscriber list that
// the per-topic cache builds), so counting costs the hot path an increment, never a lookup per message.
// Aedes's own path (QoS 1, retained, rate-limited clients) looks the object up per message: that path is
// not the tuned one.
import type { Client } from 'aedes'
import type { Identity } from './access.js'

export interface HookCounts {
  /** hooks the instance published that the broker accepted */
  out: number
  /** hook messages the broker delivered to it */
  in: number
}

export interface Traffic {
  /** the counts of a client: its module instance's, or a sink that no one reads (operators, anonymous clients) */
  of (client: Client): HookCounts
  /** every module instance's counts by client id (`<module>.<instance>`), counting on */
  readonly byClientId: ReadonlyMap<string, HookCounts>
  /** forgets client ids the predicate refuses (a module removed from the gateway) */
  keepOnly (keep: (clientId: string) => boolean): void
}

export function createTraffic (identityOf: (client: Client) => Identity | undefined): Traffic {
  // module client ids only: the core issues them for the modules of its manifest, so the map stays small
  const byClientId = new Map<string, HookCounts>()
  const sink: HookCounts = { out: 0, in: 0 }
  return {
    of (client) {
      const identity = identityOf(client)
      if (identity?.kind !== 'module') return sink
      let counts = byClientId.get(identity.clientId)
      if (counts === undefined) byClientId.set(identity.clientId, counts = { out: 0, in: 0 })
      return counts
    },
    byClientId,
    keepOnly (keep) {
      for (const id of byClientId.keys()) if (!keep(id)) byClientId.delete(id)
    },
  }
}

/** hooks/…: the topics counted */
export function isHookTopic (topic: string): boolean {
  return topic.startsWith('hooks/')
}
