// The uplink module (docs/fleet.md): connects the gateway out to an upstream broker. Up: chosen hooks (stored
// ones through the on-disk queue, with a sequence number), every module's state and presence (retained), the
// gateway's status (retained; offline as the Last Will). Down: requests for core and for exposed module
// methods, on behalf of the fleet operator the upstream's ACL vouches for. Nothing else comes down.
// Every write up counts against one bound on what waits unsent (`limits.maxBacklogBytes`), so a link slower
// than what is asked of it cannot grow the process: hooks and stored records go out while at most half of it
// waits (the other half is kept for replies, statuses and states), non-stored hooks are dropped (counted)
// past that, statuses and retained documents are put off and their latest copy sent once there is room, and
// requests are refused (downlink.ts).
import type { UplinkConfig } from '../../core/manifest/uplink-schema.js'
import { decodeCbor, encodeCbor, epochMs } from '../../core/protocol/codec.js'
import { matchTopic } from '../../core/protocol/topics.js'
import { runModule } from '../../core/sdk/index.js'
import { createDownlink } from './downlink.js'
import { openQueue } from './queue.js'
import { checkHookEnvelope, fleetTopics, seqStamp } from './topics.js'
import { connectUpstream } from './upstream.js'

const STATUS_DEBOUNCE_MS = 1000
/** the key of the gateway's status among the owed retained documents (a local topic is never empty) */
const STATUS = ''

runModule<UplinkConfig>(async (m) => {
  const c = m.config
  const t = fleetTopics(c.topicRoot, c.fleetId)
  const queue = openQueue({ ...c.queue, warn: text => m.log.warn(text) })
  const hooks = { up: 0, stored: 0, dropped: { offline: 0, backlog: 0, malformed: 0, reserved: 0 } }
  let oversized = 0
  /** retained writes (status, state, presence) put off while the backlog was over its bound */
  let deferred = 0
  const maxBacklog = c.limits.maxBacklogBytes
  /** hooks and stored records go out while at most this waits */
  const bulkBacklog = Math.floor(maxBacklog / 2)
  // the latest local state/<module> and presence/<module>/<instance>, sent again after every reconnect
  const retained = new Map<string, Buffer>()
  // of those, the topics a live publish has reached: the broker's replay of its retained copy to our new
  // subscription can come after a live publish (ours says `starting` after the core said `running`), and is
  // then older than what we have
  const seenLive = new Set<string>()
  const moduleStates = new Map<string, string>()
  const startedAt = Date.now()

  const statusOf = (state: 'online' | 'offline'): Buffer => {
    const q = queue.stats()
    let running = 0
    for (const s of moduleStates.values()) if (s === 'running') running++
    return encodeCbor({
      state, fleetId: c.fleetId, version: c.version, ts: epochMs(Date.now()), since: epochMs(startedAt),
      modules: { total: moduleStates.size, running },
      queue: { records: q.records, bytes: q.bytes, dropped: q.dropped },
    })
  }

  // ── stored hooks: queue → upstream, QoS 1, at most `window` sent and not acknowledged ──
  // `sent` holds their seqs in the order sent; the queue's position moves over its acknowledged front only, so
  // a PUBACK that overtakes an earlier one never lets a record go unsent after a reconnect
  const stamp = seqStamp(queue.stats().id)
  let sent: number[] = []
  const ackedOut = new Set<number>()
  let pumpScheduled = false
  let pumpWaits = false
  const pump = (): void => {
    pumpScheduled = false
    while (upstream.connected && sent.length < c.queue.window) {
      if (upstream.backlogBytes > bulkBacklog) {
        if (!pumpWaits) upstream.whenUnder(bulkBacklog, () => { pumpWaits = false; schedulePump() })
        pumpWaits = true
        return
      }
      const record = queue.next()
      if (record === undefined) return
      const body = stamp(record.body, record.seq)
      sent.push(record.seq)
      if (body === undefined) { // only maps are stored (onHook): a record that is not one is passed over
        advance(record.seq)
        continue
      }
      // false only once the connection went: its seq stays unacknowledged in `sent`, and the reconnect sends it again
      if (!upstream.publishStored(t.up(record.topic), body, record.seq)) return
    }
  }
  const schedulePump = (): void => {
    if (pumpScheduled) return
    pumpScheduled = true
    setImmediate(pump)
  }
  /** `seq` is done with: the queue's position moves over the front of `sent` that is */
  function advance (seq: number): void {
    ackedOut.add(seq)
    let front: number | undefined
    while (sent.length > 0 && ackedOut.delete(sent[0] as number)) front = sent.shift()
    if (front === undefined) return
    queue.ack(front)
    schedulePump()
  }

  // ── retained documents: the status and the mirrored state/presence. While the backlog is over its bound
  // they are owed, not written: only the latest copy of each goes once there is room ──
  const owed = new Set<string>()
  let owedWaits = false
  const sendOwed = (): void => {
    for (const topic of owed) {
      if (!upstream.connected) return // onConnect sends them all again
      if (upstream.full) {
        if (!owedWaits) upstream.whenUnder(maxBacklog, () => { owedWaits = false; sendOwed() })
        owedWaits = true
        return
      }
      owed.delete(topic)
      if (topic === STATUS) upstream.publish(t.status, statusOf('online'), true)
      else upstream.publish(t.up(topic), retained.get(topic) ?? Buffer.alloc(0), true) // empty: cleared since
    }
  }
  const sendRetained = (topic: string): void => {
    if (upstream.full && !owed.has(topic)) deferred++
    owed.add(topic)
    sendOwed()
  }

  let statusTimer: NodeJS.Timeout | undefined
  const publishStatus = (): void => {
    if (statusTimer !== undefined) clearTimeout(statusTimer)
    statusTimer = setTimeout(publishStatus, c.statusEveryMs)
    sendRetained(STATUS)
  }
  let statusSoon: NodeJS.Timeout | undefined
  const statusChanged = (): void => {
    statusSoon ??= setTimeout(() => { statusSoon = undefined; if (upstream.connected) publishStatus() }, STATUS_DEBOUNCE_MS)
  }

  const downlink = createDownlink({
    topics: t,
    limits: c.limits,
    operators: c.operators,
    expose: c.expose,
    // only core reads `onBehalf` (from this module alone: core/broker/access.ts); a module method is called as the uplink
    call: (module, method, args, timeout, onBehalf) => m.callRaw(module, method, args, module === 'core' ? { timeout, onBehalf } : { timeout }),
    reply: (topic, payload, sent) => { if (!upstream.send(topic, payload, sent)) sent() },
    backlogBytes: () => upstream.backlogBytes,
    warn: text => m.log.warn(text),
  })

  // a reply that could only be dropped is not kept as it arrives: the packet's topic and header come on top
  m.limitReplies(() => downlink.replyRoom() + 1024)

  const upstream = connectUpstream({
    url: c.url,
    clientId: c.fleetId,
    username: c.username,
    password: c.password,
    ca: c.ca,
    cert: c.cert,
    key: c.key,
    keepaliveSeconds: c.keepaliveSeconds,
    will: { topic: t.status, payload: encodeCbor({ state: 'offline', fleetId: c.fleetId, version: c.version }) },
    subscriptions: [t.requests],
    backoff: c.backoff,
    maxPacketBytes: c.limits.maxRequestBytes + 1024, // a request's payload, its topic and the fixed header
    maxBacklogBytes: maxBacklog,
    onConnect: () => {
      for (const topic of retained.keys()) owed.add(topic)
      publishStatus()
      queue.rewind()
      schedulePump()
    },
    onClose: () => {
      sent = []
      ackedOut.clear()
    },
    onStoredAck: seq => {
      hooks.up++
      advance(seq)
    },
    onMessage: downlink.onMessage,
    onOversized: () => { oversized++ },
    log: m.log,
  })

  // ── what goes up from the local bus ──
  const rules = c.hooks.map(h => ({ ...h, filter: `hooks/${h.filter}` }))
  for (const rule of rules) {
    m.watch(rule.filter, (topic, payload) => {
      if (rules.find(r => matchTopic(r.filter, topic)) !== rule) return // the first matching filter decides
      const envelope = checkHookEnvelope(payload)
      if (envelope !== 'ok') {
        hooks.dropped[envelope]++
        return
      }
      if (rule.store) {
        if (queue.append(topic, payload) !== undefined) hooks.stored++
        schedulePump()
      } else if (!upstream.connected) hooks.dropped.offline++
      else if (upstream.backlogBytes > bulkBacklog) hooks.dropped.backlog++
      else if (rule.qos === 0 ? upstream.send(t.up(topic), payload) : upstream.publish(t.up(topic), Buffer.from(payload), false)) hooks.up++ // mqtt.js keeps a QoS 1 payload
    })
  }
  /** false when the message is a stale replay, not mirrored */
  const mirror = (topic: string, payload: Buffer, replayed: boolean): boolean => {
    if (replayed && seenLive.has(topic)) return false
    if (!replayed) seenLive.add(topic)
    const copy = Buffer.from(payload)
    if (copy.length === 0) retained.delete(topic)
    else retained.set(topic, copy)
    sendRetained(topic)
    return true
  }
  m.watch('state/+', (topic, payload, replayed) => {
    if (!mirror(topic, payload, replayed)) return
    const name = topic.slice('state/'.length)
    try {
      const doc = payload.length === 0 ? undefined : decodeCbor(payload) as { state?: unknown }
      if (typeof doc?.state === 'string') moduleStates.set(name, doc.state)
      else moduleStates.delete(name)
    } catch {
      moduleStates.delete(name)
    }
    statusChanged()
  })
  m.watch('presence/+/+', mirror)

  m.method('stats', () => ({
    connected: upstream.connected,
    backlogBytes: upstream.backlogBytes,
    fleetId: c.fleetId,
    prefix: t.prefix,
    queue: queue.stats(),
    hooks,
    downlink: downlink.counters,
    replyBytesHeld: downlink.replyBytesHeld(),
    oversized,
    deferred,
  }))

  m.onStop(async () => {
    if (statusTimer !== undefined) clearTimeout(statusTimer)
    if (statusSoon !== undefined) clearTimeout(statusSoon)
    // a clean disconnect sends no Last Will: say offline first
    if (upstream.connected) {
      await new Promise<void>(resolve => {
        upstream.publish(t.status, statusOf('offline'), true, () => resolve())
        setTimeout(resolve, 1000).unref()
      })
    }
    await upstream.close()
    queue.close()
  })
  await m.start()
})
