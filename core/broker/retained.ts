// The retained messages each publisher holds in the broker. Aedes keeps a retained message until it is
// replaced or cleared, for as long as the core runs, so without a limit one client could grow the core
// without bound (400 retained hooks of 200 KiB once added 127 MiB). Counted per owner (a module, an operator
// user, anonymous clients: access.ts retainOwner) when the broker authorises the publish; only retained
// publishes come here, never the hot path.
import type { StoreLimits } from './limits.js'

export interface RetainedUse {
  topics: number
  bytes: number
}

export interface RetainedLedger {
  /** a retained publish of `bytes` on `topic` by `owner`: why it is refused, or null once it is counted */
  keep (owner: string, topic: string, bytes: number): string | null
  of (owner: string): RetainedUse
}

export function createRetainedLedger (limits: Pick<StoreLimits, 'retainedTopics' | 'retainedBytes'>): RetainedLedger {
  const byTopic = new Map<string, { owner: string, bytes: number }>()
  const byOwner = new Map<string, RetainedUse>()
  const useOf = (owner: string): RetainedUse => {
    let use = byOwner.get(owner)
    if (use === undefined) byOwner.set(owner, use = { topics: 0, bytes: 0 })
    return use
  }
  const release = (topic: string): void => {
    const held = byTopic.get(topic)
    if (held === undefined) return
    byTopic.delete(topic)
    const use = useOf(held.owner)
    use.topics--
    use.bytes -= held.bytes
  }

  return {
    keep (owner, topic, bytes) {
      // an empty retained payload clears the topic [MQTT-3.3.1-10]
      if (bytes === 0) {
        release(topic)
        return null
      }
      const use = useOf(owner)
      const held = byTopic.get(topic)
      const mine = held?.owner === owner
      const topics = use.topics + (mine ? 0 : 1)
      const total = use.bytes + bytes - (mine ? (held?.bytes ?? 0) : 0)
      if (topics > limits.retainedTopics) return `${owner} holds ${limits.retainedTopics} retained topics already (the limit): clear one first (an empty retained payload)`
      if (total > limits.retainedBytes) return `${owner} would hold ${total} bytes of retained messages, over the limit of ${limits.retainedBytes}`
      release(topic)
      byTopic.set(topic, { owner, bytes })
      use.topics = topics
      use.bytes = total
      return null
    },
    of: owner => ({ ...(byOwner.get(owner) ?? { topics: 0, bytes: 0 }) }),
  }
}
