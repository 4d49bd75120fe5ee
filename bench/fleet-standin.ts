// The fleet benchmark's stand-in for gateways (bench/fleet.ts): one process holding `count` gateways' uplink
// connections, each through the real connection code of modules/uplink (connectUpstream: a fresh mqtt.js
// client per attempt, the jittered backoff, the Last Will `offline` retained, the packet guard, the request
// subscription) under the real topic map (fleetTopics), publishing on every connect the retained status document
// shaped as modules/uplink/index.ts's statusOf (no modules and an empty queue: there is no core behind it).
// Not a gateway: no core, no local broker, no queue on disk; what it measures is the upstream's side.
//   node build/bench/fleet-standin.js <url> <first index> <count> <jitter> <initialMs> <maxMs> <factor>
// Prints `connect <fleet id> <epoch ms>` on every connection and `lost <fleet id> <epoch ms>` on every loss.
import { encodeCbor } from '../core/protocol/codec.js'
import { fleetTopics } from '../modules/uplink/topics.js'
import { connectUpstream } from '../modules/uplink/upstream.js'
import type { Upstream } from '../modules/uplink/upstream.js'

const standinId = (i: number): string => `bench-gw-${String(i).padStart(3, '0')}`
/** the uplink's defaults (core/manifest/uplink-schema.ts) */
const TOPIC_ROOT = 'outpost'
const KEEPALIVE_S = 60
const STATUS_EVERY_MS = 60_000
const MAX_REQUEST_BYTES = 65_536
const VERSION = 'bench-standin'

function main (): void {
  const [url, firstText, countText, jitterText, initialText, maxText, factorText] = process.argv.slice(2)
  if (url === undefined) throw new Error('usage: fleet-standin <url> <first> <count> <jitter> <initialMs> <maxMs> <factor>')
  const first = Number(firstText)
  const count = Number(countText)
  const backoff = { jitter: Number(jitterText), initialMs: Number(initialText), maxMs: Number(maxText), factor: Number(factorText) }
  const upstreams: Upstream[] = []
  const out = (line: string): void => { process.stdout.write(`${line}\n`) }
  for (let i = first; i < first + count; i++) {
    const fleetId = standinId(i)
    const t = fleetTopics(TOPIC_ROOT, fleetId)
    const startedAt = Date.now()
    // as statusOf in modules/uplink/index.ts: the same keys, nothing behind them
    const statusOf = (state: 'online' | 'offline'): Buffer => encodeCbor({
      state, fleetId, version: VERSION, ts: Date.now(), since: startedAt,
      modules: { total: 0, running: 0 },
      queue: { records: 0, bytes: 0, dropped: { full: 0, age: 0, tooLarge: 0 } },
    })
    let statusTimer: NodeJS.Timeout | undefined
    const publishStatus = (): void => {
      if (statusTimer !== undefined) clearTimeout(statusTimer)
      statusTimer = setTimeout(publishStatus, STATUS_EVERY_MS)
      upstream.publish(t.status, statusOf('online'), true)
    }
    const upstream: Upstream = connectUpstream({
      url,
      clientId: fleetId,
      keepaliveSeconds: KEEPALIVE_S,
      will: { topic: t.status, payload: encodeCbor({ state: 'offline', fleetId, version: VERSION }) },
      subscriptions: [t.requests],
      backoff,
      maxPacketBytes: MAX_REQUEST_BYTES + 1024,
      onConnect: () => {
        out(`connect ${fleetId} ${Date.now()}`)
        publishStatus()
      },
      onClose: () => { out(`lost ${fleetId} ${Date.now()}`) },
      onStoredAck: () => {},
      onMessage: () => {},
      onOversized: () => {},
      log: { info: () => {}, warn: () => {} },
    })
    upstreams.push(upstream)
  }
  const stop = (): void => {
    void Promise.all(upstreams.map(u => u.close())).finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

main()
