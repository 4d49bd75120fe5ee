// The connection out to the upstream broker (mqtt.js): a fresh client per attempt, reconnecting after a delay
// drawn from [d × (1 − jitter), d] with d growing by `factor` up to `maxMs`, so a fleet that lost its upstream
// together comes back spread out. The Last Will marks the gateway offline, retained. Incoming packets larger
// than `maxPacketBytes` close the connection as soon as their fixed header announces them (mqtt.js has no such
// bound in MQTT 3.1.1): `onOversized` counts them.
// The bulk streams do not go through mqtt.js's publish, which per message makes a dozen objects, writes to the
// socket once, and for QoS 1 clones the packet into its own resend store: stored hooks (QoS 1, whose resend
// store is the queue on disk) and QoS 0 hooks and replies. Their PUBLISH packets are encoded here, every packet
// of one turn of the event loop handed to the socket in one write; going around mqtt.js is most of why the
// uplink's CPU per drained record fell by about 40% (docs/benchmarks.md, "Uplink"). Stored hooks go under
// message ids from the same allocator as mqtt.js's own, and their PUBACKs are taken as mqtt.js parses them.
// Retained and other QoS 1 messages (statuses, states, presences, QoS 1 hooks not stored) are few: mqtt.js.
// What waits unsent (`backlogBytes`: the socket's buffer and this turn's packets) is measured for every path
// alike; the callers decide what to hold back while it is over `maxBacklogBytes` (`full`), and `whenUnder`
// tells them when there is room again.
import { readFileSync } from 'node:fs'
import mqtt, { UniqueMessageIdProvider } from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import { packetGuard } from '../../core/protocol/packet-guard.js'

export interface Backoff { initialMs: number, maxMs: number, factor: number, jitter: number }

export interface UpstreamOptions {
  url: string
  clientId: string
  username?: string | undefined
  password?: string | undefined
  ca?: string | undefined
  cert?: string | undefined
  key?: string | undefined
  keepaliveSeconds: number
  will: { topic: string, payload: Buffer }
  /** subscribed (QoS 0) on every connection, before onConnect runs */
  subscriptions: string[]
  backoff: Backoff
  maxPacketBytes: number
  /** `full` while more than this waits unsent; never full without it (the uplink always gives it) */
  maxBacklogBytes?: number
  onConnect: () => void
  onClose: () => void
  /** the upstream acknowledged the stored hook `seq` (publishStored), on the current connection */
  onStoredAck: (seq: number) => void
  onMessage: (topic: string, payload: Buffer) => void
  onOversized: () => void
  log: { info: (text: string) => void, warn: (text: string) => void }
}

export interface Upstream {
  readonly connected: boolean
  /** bytes written and not yet sent on the current connection */
  readonly backlogBytes: number
  /** more than `maxBacklogBytes` waits unsent */
  readonly full: boolean
  /** `done` once at most `bytes` wait unsent, after this turn's packets are handed to the socket, or the connection is gone */
  whenUnder (bytes: number, done: () => void): void
  /** QoS 1 through mqtt.js, calling back once acknowledged; false if not connected or closing (nothing is queued in memory) */
  publish (topic: string, payload: Buffer, retain: boolean, acked?: (err?: Error) => void): boolean
  /** QoS 0, not retained, the payload (or its pieces, one after the other) copied at once (one of 64 KiB or more is
   * handed to the socket as it is: it must not change); false if not connected or
   * closing (then `written` is not called); `written` once the socket has sent the packet on, or the connection went */
  send (topic: string, payload: Buffer | readonly Buffer[], written?: () => void): boolean
  /** a stored hook, QoS 1, not retained: onStoredAck(seq) once acknowledged; false if not connected or closing (nothing is kept) */
  publishStored (topic: string, payload: Buffer, seq: number): boolean
  close (): Promise<void>
}

export function backoffDelay (attempt: number, b: Backoff, random = Math.random): number {
  const d = Math.min(b.maxMs, b.initialMs * b.factor ** attempt)
  return Math.round(d * (1 - b.jitter * random()))
}

/** packets of one turn of the event loop are encoded into chunks of this size (a larger packet gets its own) */
const OUT_CHUNK_BYTES = 65_536
const PUBLISH_QOS0 = 0x30
const PUBLISH_QOS1 = 0x32

/** bytes of an MQTT remaining length [MQTT-2.2.3] */
const lengthBytes = (n: number): number => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4)

interface PacketWriter {
  /** bytes encoded and not yet handed to the socket (at most one turn of the event loop's) */
  readonly pending: number
  /** a PUBLISH, not retained: QoS 1 under message id `id`, QoS 0 when `id` is 0; the payload is copied at once,
   * unless it is of OUT_CHUNK_BYTES or more: then it is handed to the socket as it is, and must not change;
   * `written` once the socket has sent it on, or the connection went */
  publish (topic: string, payload: Buffer | readonly Buffer[], id: number, written?: () => void): void
  /** the connection went: every `written` not called yet is */
  abandon (): void
}

/** PUBLISH packets encoded by hand, every packet of one turn of the event loop handed to the socket in one write */
function packetWriter (client: MqttClient): PacketWriter {
  let out = Buffer.allocUnsafe(0)
  let used = 0
  let flushScheduled = false
  // the `written` callbacks of the packets not yet handed to the socket, and of each write the socket has not
  // sent on yet (a write's callback may never come once the connection is destroyed: abandon calls them)
  let callbacks: Array<() => void> = []
  const unsent = new Set<Array<() => void>>()
  const call = (group: Array<() => void>): void => {
    if (!unsent.delete(group)) return
    for (const written of group) written()
  }
  /** hands the packets encoded so far to the socket, then `after` (a large payload, as it is) */
  const flush = (after: readonly Buffer[] = []): void => {
    flushScheduled = false
    if (used === 0 && after.length === 0) return
    // what follows `used` in the chunk is never written once handed out: the next packets go there
    const buffers = used === 0 ? after : [out.subarray(0, used), ...after]
    out = out.subarray(used)
    used = 0
    const group = callbacks
    callbacks = []
    unsent.add(group)
    // else the connection went: stored hooks are sent again after the reconnect, QoS 0 ones are lost as on any loss
    if (client.stream.destroyed) return call(group)
    const last = buffers.length - 1
    for (let i = 0; i < last; i++) client.stream.write(buffers[i] as Buffer)
    client.stream.write(buffers[last] as Buffer, () => call(group))
  }
  return {
    get pending () { return used },
    abandon () {
      for (const group of [...unsent, callbacks]) {
        unsent.add(group)
        call(group)
      }
      callbacks = []
    },
    publish (topic, payload, id, written) {
      const topicBytes = Buffer.byteLength(topic)
      const parts = Buffer.isBuffer(payload) ? [payload] : payload
      let payloadBytes = 0
      for (const part of parts) payloadBytes += part.length
      const remaining = 2 + topicBytes + (id === 0 ? 0 : 2) + payloadBytes
      // a large payload goes to the socket as it is, after its packet's head: a copy of each large reply
      // was one more buffer of its size for the garbage collector, which flooding operators made faster than it came
      const large = payloadBytes >= OUT_CHUNK_BYTES
      const size = 1 + lengthBytes(remaining) + remaining - (large ? payloadBytes : 0)
      if (out.length - used < size) {
        flush()
        out = Buffer.allocUnsafe(Math.max(OUT_CHUNK_BYTES, size))
      }
      let at = used
      out[at++] = id === 0 ? PUBLISH_QOS0 : PUBLISH_QOS1
      for (let n = remaining; ; n >>>= 7) {
        out[at++] = n > 127 ? (n & 0x7f) | 0x80 : n
        if (n <= 127) break
      }
      at = out.writeUInt16BE(topicBytes, at)
      at += out.write(topic, at, 'utf8')
      if (id !== 0) at = out.writeUInt16BE(id, at)
      if (written !== undefined) callbacks.push(written)
      if (large) {
        used = at
        return flush(parts)
      }
      for (const part of parts) at += part.copy(out, at)
      used = at
      if (!flushScheduled) {
        flushScheduled = true
        process.nextTick(flush)
      }
    },
  }
}

/** Stored hooks' PUBLISH packets (QoS 1, through `writer`) and their acknowledgements. */
function storedSender (client: MqttClient, writer: PacketWriter, ids: UniqueMessageIdProvider, acked: (seq: number) => void) {
  // message id → the seq sent under it, 0 when the id is not a stored hook's (seqs start at 1)
  const seqOf = new Float64Array(65_536)
  client.on('packetreceive', packet => {
    if (packet.cmd !== 'puback' || packet.messageId === undefined) return
    const seq = seqOf[packet.messageId] as number
    if (seq === 0) return // one of mqtt.js's own
    seqOf[packet.messageId] = 0
    ids.deallocate(packet.messageId)
    acked(seq)
  })
  return (topic: string, payload: Buffer, seq: number): boolean => {
    const id = ids.allocate()
    if (id === null) return false // every id in flight: not with a window of at most 1000
    writer.publish(topic, payload, id)
    seqOf[id] = seq
    return true
  }
}

export function connectUpstream (o: UpstreamOptions): Upstream {
  const tls: Partial<IClientOptions> = {}
  if (o.ca !== undefined) tls.ca = readFileSync(o.ca)
  if (o.cert !== undefined) tls.cert = readFileSync(o.cert)
  if (o.key !== undefined) tls.key = readFileSync(o.key)
  let client: MqttClient | undefined
  let writer: PacketWriter | undefined
  let sendStored: ReturnType<typeof storedSender> | undefined
  let connected = false
  let attempt = 0
  let timer: NodeJS.Timeout | undefined
  let closing = false
  // whenUnder's callers, each with its bound; checked after this turn's flush and whenever the socket drains
  let waiting: Array<{ bytes: number, done: () => void }> = []
  let checkScheduled = false
  let drainArmed: unknown // the socket a 'drain' listener waits on
  const backlog = (): number => (client?.stream?.writableLength ?? 0) + (writer?.pending ?? 0)
  const checkWaiting = (): void => {
    checkScheduled = false
    const now = backlog()
    const ready: Array<() => void> = []
    const still: typeof waiting = []
    for (const w of waiting) {
      if (connected && now > w.bytes) still.push(w)
      else ready.push(w.done)
    }
    waiting = still
    // over any bound, a write returned false (the socket's high-water mark, 16 KiB, is below every bound): 'drain' follows
    const stream = client?.stream
    if (still.length > 0 && stream !== undefined && drainArmed !== stream) {
      drainArmed = stream
      stream.once('drain', () => { drainArmed = undefined; scheduleCheck() })
    }
    for (const done of ready) done()
  }
  function scheduleCheck (): void {
    if (checkScheduled) return
    checkScheduled = true
    process.nextTick(checkWaiting) // after the writer's flush of this turn (queued before)
  }

  const start = (): void => {
    timer = undefined
    const ids = new UniqueMessageIdProvider()
    const options: IClientOptions = {
      protocolVersion: 4,
      messageIdProvider: ids,
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      keepalive: o.keepaliveSeconds,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: o.will.topic, payload: o.will.payload, qos: 1, retain: true },
      ...tls,
    }
    if (o.username !== undefined) options.username = o.username
    if (o.password !== undefined) options.password = o.password
    const c = mqtt.connect(o.url, options)
    client = c
    const w = packetWriter(c)
    writer = w
    sendStored = storedSender(c, w, ids, seq => { if (client === c && connected) o.onStoredAck(seq) })
    // on the socket from its first byte (mqtt.js made it in connect()), so that it reads packet by packet
    c.stream.on('data', packetGuard(o.maxPacketBytes, () => {
      o.onOversized()
      o.log.warn(`the upstream sent a packet over ${o.maxPacketBytes} bytes: connection closed`)
      c.stream.destroy()
    }))
    let ended = false
    c.on('connect', () => {
      connected = true
      attempt = 0
      o.log.info(`connected to ${o.url} as ${o.clientId}`)
      if (o.subscriptions.length > 0) c.subscribe(o.subscriptions, { qos: 0 }, err => { if (err) o.log.warn(`subscribe upstream: ${err.message}`) })
      o.onConnect()
    })
    c.on('message', (topic, payload) => o.onMessage(topic, payload))
    c.on('error', err => o.log.warn(`upstream ${o.url}: ${err.message}`))
    c.on('close', () => {
      if (ended) return
      ended = true
      const was = connected
      connected = false
      c.end(true)
      w.abandon()
      if (was) o.onClose()
      scheduleCheck() // no connection: nothing waits unsent any more
      if (closing) return
      const delay = backoffDelay(attempt++, o.backoff)
      if (was) o.log.warn(`lost ${o.url}; reconnecting in ${delay} ms`)
      timer = setTimeout(start, delay)
    })
  }
  start()

  return {
    get connected () { return connected },
    get backlogBytes () { return backlog() },
    get full () { return backlog() > (o.maxBacklogBytes ?? Number.POSITIVE_INFINITY) },
    whenUnder (bytes, done) {
      waiting.push({ bytes, done })
      scheduleCheck()
    },
    // nothing new once a close has begun: mqtt.js, ending, refuses a publish with an 'error' event (warned
    // about below as if the connection failed), and a clean stop says nothing at warning level
    publish (topic, payload, retain, acked) {
      if (!connected || closing || client === undefined) return false
      client.publish(topic, payload, { qos: 1, retain }, acked === undefined ? undefined : err => acked(err ?? undefined)) // mqtt.js passes null on success
      return true
    },
    send (topic, payload, written) {
      if (!connected || closing || writer === undefined) return false
      writer.publish(topic, payload, 0, written)
      return true
    },
    publishStored (topic, payload, seq) {
      if (!connected || closing || sendStored === undefined) return false
      return sendStored(topic, payload, seq)
    },
    async close () {
      closing = true
      if (timer !== undefined) clearTimeout(timer)
      if (client !== undefined && connected) await client.endAsync().catch(() => {})
      else client?.end(true)
    },
  }
}
