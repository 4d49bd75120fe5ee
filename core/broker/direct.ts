// Direct delivery: the broker's fast path for QoS 0 messages that are not retained (hooks, RPC requests,
// replies: nearly all module traffic). Through Aedes each such message costs a parse into a packet object,
// a subscription match and a deferred callback per subscriber, which is most of an RPC round trip and most
// of the broker's memory churn under load (docs/benchmarks.md). Here the broker takes the message as it is
// read (reader.ts), before Aedes sees it, finds the subscribed connections from a per-topic cache, and
// writes the packet to each as it was read (a QoS 0 PUBLISH goes out byte for byte as it came in). Aedes
// still owns connections, sessions, subscriptions and their access checks, QoS 1 and 2, retained messages
// and wills; the core's in-process subscribers are served by both paths. Any message the fast path is not sure of goes on through Aedes as before.
import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type net from 'node:net'
import { encode, sniffFormat } from '../protocol/codec.js'
import type { WireFormat } from '../protocol/codec.js'
import { correlationId, errorReply } from '../protocol/envelope.js'
import type { CorrelationId } from '../protocol/envelope.js'
import { readEnvelopeId } from '../protocol/envelope-head.js'
import { matchTopic } from '../protocol/topics.js'
import type { QoS0Publish } from './reader.js'
import { encodePublish } from '../protocol/mqtt-publish.js'
import { writeSoon } from './writes.js'
import { isHookTopic } from './traffic.js'
import type { HookCounts } from './traffic.js'

/** past this many unsent bytes to one subscriber, messages for it are dropped until it catches up (either path) */
export const BACKLOG_BYTES = 4 << 20
/** replies dropped in one backlog episode that are answered UNAVAILABLE once their caller catches up; past it, counted only */
export const MAX_OWED_NOTICES = 64
/** distinct topics whose subscribers are remembered at once; the cache starts over beyond it */
const CACHE_TOPICS = 4096

type Deliver = (packet: AedesPublishPacket, done: () => void) => void
const kQueued = Symbol('outpost.queuedBytes')
const kCounted = Symbol('outpost.countedPackets')
const kDelivering = Symbol('outpost.delivering')

interface AedesClientInternals {
  _keepaliveInterval: number
  _keepaliveTimer: NodeJS.Timeout | null
  connected: boolean
  subscriptions: Record<string, unknown>
  conn: net.Socket
  deliver0: Deliver
  deliverQoS: Deliver
  waitForDrain (done: () => void): void
  /** bytes Aedes has queued for this client and not yet written (watch) */
  [kQueued]: number
  /** the deliveries counted in it (a set per client: Aedes makes a packet object per delivery, but nothing need rely on that) */
  [kCounted]: WeakSet<AedesPublishPacket>
  /** the packet a wrapped deliver function is handing to Aedes now (its check runs within: watch) */
  [kDelivering]: AedesPublishPacket | null
}

/** a reply dropped for a caller that was behind, to be answered UNAVAILABLE when it catches up */
interface Owed { topic: string, id: CorrelationId, format: WireFormat }
/** one socket's backlog episode: from its first dropped message until it drains or is closed */
interface Episode { dropped: number, owed: Owed[], recover (): void }

/** what an Aedes delivery of `packet` adds to a socket, near enough (fixed header, topic, message id, payload) */
const packetBytes = (packet: AedesPublishPacket): number => (packet.payload as Buffer).length + packet.topic.length + 9

/** JSON replies up to this size are read whole for their id when dropped; a larger one is not answered */
export const MAX_OWED_JSON_BYTES = 256 * 1024

/**
 * The id of a dropped reply, read as the RPC router read it when it let the reply through, so that the notice
 * answers that call and no other: CBOR from its leading entries (the core and the SDK write `id` first, and
 * the router lets no CBOR reply with a second `id` through); JSON whole, as JSON.parse reads it (the last of
 * two `id` keys: review 8, a module's `{"id": <another call's>, "id": <its own>}` made the broker answer
 * another module's call), which costs too much for the largest replies.
 */
export function owedId (payload: Buffer, format: WireFormat): CorrelationId | null {
  if (format === 'cbor') {
    const id = readEnvelopeId(payload)
    return id === null || id === undefined ? null : correlationId(id)
  }
  if (payload.length > MAX_OWED_JSON_BYTES) return null
  try {
    const reply: unknown = JSON.parse(payload.toString('utf8'))
    return typeof reply === 'object' && reply !== null ? correlationId((reply as { id?: unknown }).id) : null
  } catch {
    return null
  }
}

const internalsOf = (client: Client): AedesClientInternals => client as unknown as AedesClientInternals

/** Aedes counts every packet it handles as a sign of life; a packet the direct path took counts as well. */
export function keepAlive (client: Client): void {
  const internals = internalsOf(client)
  if (internals._keepaliveInterval > 0) internals._keepaliveTimer?.refresh()
}

function subscribed (internals: AedesClientInternals, topic: string): boolean {
  const subscriptions = internals.subscriptions
  if (subscriptions[topic] !== undefined) return true
  for (const filter in subscriptions) if (matchTopic(filter, topic)) return true
  return false
}

export type InProcessDeliver = (packet: AedesPublishPacket, done: () => void) => void

interface Subscribers {
  clients: Client[]
  /** each client's hook counts (traffic.ts), when the topic is a hook's: found once, with the list */
  hookCounts: HookCounts[] | null
  inProcess: InProcessDeliver[]
}

export interface DirectDelivery {
  /** Delivers to every connected client, and every in-process subscriber, subscribed to `topic`. */
  publish (publish: QoS0Publish): void
  /** Delivers to one client, by id, if it is connected and subscribed; false otherwise. */
  publishTo (clientId: string, publish: QoS0Publish): boolean
  /** Whether Aedes's delivery of `packet` to this client is dropped because it is BACKLOG_BYTES behind (counted); if not, its bytes count as queued until written. */
  behind (client: Client, packet: AedesPublishPacket): boolean
  /** Counts what Aedes queues for a client until written, and frees its delivery slots (call before it subscribes). */
  watch (client: Client): void
  /** messages dropped for subscribers that were not reading (BACKLOG_BYTES), on either path, since the broker started */
  readonly dropped: number
  /** the core's own subscriptions, which Aedes serves as well (for what it delivers itself) */
  addInProcess (filter: string, deliver: InProcessDeliver): void
  removeInProcess (filter: string, deliver: InProcessDeliver): void
}

export interface BacklogEvents {
  /** a subscriber stopped reading: its QoS 0 messages are dropped from now on */
  dropping (clientId: string, unsentBytes: number): void
  /** it caught up: how many were dropped meanwhile, and how many of them were replies now answered UNAVAILABLE */
  recovered (clientId: string, dropped: number, answered: number): void
  /** it did not catch up within the drain timeout: its connection is closed */
  stuck (clientId: string, dropped: number): void
}

/**
 * A subscriber that stops reading must not make the broker hold its messages without bound, nor stall
 * anyone else: past BACKLOG_BYTES its messages are dropped (QoS 0 is at most once), and if it has not
 * caught up `drainTimeoutMs` later it is disconnected, as Aedes does for what it delivers itself.
 */
export function createDirectDelivery (aedes: Aedes, drainTimeoutMs: number, backlog: BacklogEvents, mayRead: (client: Client, topic: string) => boolean, hookCountsOf: (client: Client) => HookCounts): DirectDelivery {
  const clients = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients
  const inProcess: Array<{ filter: string, deliver: InProcessDeliver }> = []
  const cache = new Map<string, Subscribers>()
  const episodes = new Map<net.Socket, Episode>() // sockets in a backlog episode
  let droppedBehind = 0 // every message dropped so, since the broker started
  const forget = (): void => cache.clear()
  // every change to who is subscribed to what; Aedes updates a client's subscriptions before emitting
  aedes.on('client', forget)
  aedes.on('clientDisconnect', forget)
  aedes.on('subscribe', forget)
  aedes.on('unsubscribe', forget)

  const subscribersOf = (topic: string): Subscribers => {
    let found = cache.get(topic)
    if (found !== undefined) return found
    found = { clients: [], hookCounts: null, inProcess: inProcess.filter(s => matchTopic(s.filter, topic)).map(s => s.deliver) }
    for (const id in clients) {
      const client = clients[id]
      // decided once per topic: a subscription that starts with a wildcard also matches what its client may not read (access.ts)
      if (client !== undefined && subscribed(internalsOf(client), topic) && mayRead(client, topic)) found.clients.push(client)
    }
    if (isHookTopic(topic)) found.hookCounts = found.clients.map(hookCountsOf)
    if (cache.size >= CACHE_TOPICS) cache.clear()
    cache.set(topic, found)
    return found
  }

  const startDropping = (client: Client, socket: net.Socket): Episode => {
    const episode: Episode = { dropped: 0, owed: [], recover: () => recovered() }
    episodes.set(socket, episode)
    backlog.dropping(client.id, socket.writableLength + internalsOf(client)[kQueued])
    const end = (): void => {
      clearTimeout(timer)
      socket.off('drain', recovered)
      socket.off('close', gone)
      episodes.delete(socket)
    }
    const timer = setTimeout(() => {
      end()
      backlog.stuck(client.id, episode.dropped)
      socket.destroy()
    }, drainTimeoutMs)
    timer.unref()
    const recovered = (): void => {
      // Aedes emits 'drain' on a connection it closes (a takeover of its client id, say): that one did not catch
      // up, its notices would reach whoever holds its client id next (review 8), and its socket, not read, would
      // never finish closing: it is destroyed
      if (socket.destroyed || (client as unknown as { closed: boolean }).closed) {
        gone()
        socket.destroy()
        return
      }
      end()
      // each caller whose reply was dropped is told so, rather than left to its timeout: on this connection
      // only, straight to its socket, which has just emptied
      for (const { topic, id, format } of episode.owed) {
        const reply = errorReply(id, 'UNAVAILABLE', `the reply to this call was dropped: more than ${BACKLOG_BYTES} bytes wait unsent to this client (it does not read them as fast as they come); ask for less, or fewer at once`, { backlogBytes: BACKLOG_BYTES })
        writeSoon(socket, encodePublish(topic, encode(reply, format), false, 0, 0))
      }
      backlog.recovered(client.id, episode.dropped, episode.owed.length)
    }
    // closed while behind: its notices go with it
    const gone = (): void => {
      end()
      backlog.stuck(client.id, episode.dropped)
    }
    socket.once('drain', recovered)
    socket.once('close', gone)
    return episode
  }

  /**
   * True when a message for the client is to be dropped, since it is behind (`queued`: bytes on their way to
   * the socket that it does not count yet): counted, and a reply's id kept to answer it when it catches up.
   */
  const behind = (client: Client, socket: net.Socket, queued: number, topic: string, payload: Buffer): boolean => {
    let episode = episodes.get(socket)
    if (episode === undefined) {
      if (socket.writableLength + queued <= BACKLOG_BYTES) return false
      episode = startDropping(client, socket)
    }
    episode.dropped++
    droppedBehind++
    if (topic.startsWith('reply/') && episode.owed.length < MAX_OWED_NOTICES) {
      const format = sniffFormat(payload)
      const id = owedId(payload, format)
      if (id !== null && !episode.owed.some(owed => owed.id === id && owed.topic === topic)) episode.owed.push({ topic, id, format })
    }
    return true
  }

  /** false when the frame was dropped (a subscriber behind: counted) or the socket is gone */
  const write = (client: Client, { topic, payload, frame }: QoS0Publish): boolean => {
    const internals = internalsOf(client)
    const socket = internals.conn
    if (socket.destroyed || behind(client, socket, internals[kQueued], topic, payload)) return false
    writeSoon(socket, frame)
    return true
  }

  /**
   * Aedes checks a delivery (publishing.forward → behind) when it queues it, and writes it a turn later: many
   * queued in one turn all passed the check (review 8: 790 MiB unsent to one client). Each delivery is counted
   * from queued to written, and the check counts those with what the socket holds. And Aedes completes a write
   * to a full socket only once it drains (or drainTimeout passes), holding one of the broker's shared delivery
   * slots (`concurrency`) until then: one client that stopped reading held all 200, and every management
   * reply waited (review 7). A write completes at once instead while the socket holds at most BACKLOG_BYTES;
   * past that nothing more is delivered to the client, which is disconnected unless it catches up in time.
   */
  function watch (client: Client): void {
    const internals = internalsOf(client)
    internals[kQueued] = 0
    internals[kCounted] = new WeakSet()
    internals[kDelivering] = null
    // only what goes through these is counted: Aedes checks other deliveries too (a persistent session's
    // queue, sent at its reconnection), but writes them with callbacks of its own, which would never release
    // them (review 8: a client that read everything was disconnected as behind)
    const released = (deliver: Deliver): Deliver => (packet, done) => {
      internals[kDelivering] = packet
      try {
        deliver(packet, () => {
          if (internals[kCounted].delete(packet)) {
            internals[kQueued] -= packetBytes(packet)
            // an episode begun on what was queued, with the socket not full: no 'drain' is coming
            if (internals[kQueued] === 0 && !internals.conn.writableNeedDrain) episodes.get(internals.conn)?.recover()
          }
          done()
        })
      } finally {
        internals[kDelivering] = null
      }
    }
    const deliverQoS = internals.deliverQoS
    const releasedQoS = released(deliverQoS)
    internals.deliver0 = released(internals.deliver0)
    // Aedes's deliverQoS hands a QoS 0 message on to deliver0 (released there)
    internals.deliverQoS = (packet, done) => { (packet.qos === 0 ? deliverQoS : releasedQoS)(packet, done) }
    const waitForDrain = internals.waitForDrain
    internals.waitForDrain = function (this: AedesClientInternals, done) {
      if (this.conn.writableLength <= BACKLOG_BYTES) setImmediate(done)
      else waitForDrain.call(this, done)
    }
  }

  return {
    publish (publish) {
      const { topic, payload } = publish
      const subscribers = subscribersOf(topic)
      const { clients: to, hookCounts } = subscribers
      for (let i = 0; i < to.length; i++) {
        const client = to[i] as Client
        if (!internalsOf(client).connected) continue
        if (write(client, publish) && hookCounts !== null) (hookCounts[i] as HookCounts).in++
      }
      if (subscribers.inProcess.length > 0) {
        // the reader's view of the payload is only valid during this call; an in-process handler may keep it
        const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, messageId: 0, brokerId: aedes.id, brokerCounter: 0 } as AedesPublishPacket
        for (const deliver of subscribers.inProcess) deliver(packet, noop)
      }
    },
    publishTo (clientId, publish) {
      // among the topic's subscribers, already found: no lookup by id in Aedes's table of clients
      for (const client of subscribersOf(publish.topic).clients) {
        if (client.id !== clientId) continue
        if (!internalsOf(client).connected) return false
        write(client, publish)
        return true
      }
      return false
    },
    behind (client, packet) {
      const internals = internalsOf(client)
      if (behind(client, internals.conn, internals[kQueued], packet.topic, packet.payload as Buffer)) return true
      if (internals[kDelivering] === packet && !internals[kCounted].has(packet)) {
        internals[kCounted].add(packet)
        internals[kQueued] += packetBytes(packet)
      }
      return false
    },
    watch,
    get dropped () {
      return droppedBehind
    },
    addInProcess (filter, deliver) {
      inProcess.push({ filter, deliver })
      forget()
    },
    removeInProcess (filter, deliver) {
      const i = inProcess.findIndex(s => s.filter === filter && s.deliver === deliver)
      if (i >= 0) inProcess.splice(i, 1)
      forget()
    },
  }
}

function noop (): void {}
