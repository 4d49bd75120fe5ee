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
import { matchTopic } from '../protocol/topics.js'
import type { QoS0Publish } from './reader.js'
import { writeSoon } from './writes.js'
import { isHookTopic } from './traffic.js'
import type { HookCounts } from './traffic.js'

/** past this many unsent bytes to one subscriber, messages for it are dropped until it catches up (either path) */
export const BACKLOG_BYTES = 4 << 20
/** distinct topics whose subscribers are remembered at once; the cache starts over beyond it */
const CACHE_TOPICS = 4096

interface AedesClientInternals {
  _keepaliveInterval: number
  _keepaliveTimer: NodeJS.Timeout | null
  connected: boolean
  subscriptions: Record<string, unknown>
  conn: net.Socket
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
  /** Whether a message for this client is dropped because it is BACKLOG_BYTES behind (counted): for what Aedes delivers. */
  behind (client: Client): boolean
  /** messages dropped for subscribers that were not reading (BACKLOG_BYTES), on either path, since the broker started */
  readonly dropped: number
  /** the core's own subscriptions, which Aedes serves as well (for what it delivers itself) */
  addInProcess (filter: string, deliver: InProcessDeliver): void
  removeInProcess (filter: string, deliver: InProcessDeliver): void
}

export interface BacklogEvents {
  /** a subscriber stopped reading: its QoS 0 messages are dropped from now on */
  dropping (clientId: string, unsentBytes: number): void
  /** it caught up: how many were dropped meanwhile */
  recovered (clientId: string, dropped: number): void
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
  const drops = new Map<net.Socket, number>() // sockets in a backlog episode → messages dropped
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

  const startDropping = (client: Client, socket: net.Socket): void => {
    drops.set(socket, 1)
    backlog.dropping(client.id, socket.writableLength)
    const timer = setTimeout(() => {
      socket.off('drain', recovered)
      backlog.stuck(client.id, drops.get(socket) ?? 0)
      drops.delete(socket)
      socket.destroy()
    }, drainTimeoutMs)
    timer.unref()
    const recovered = (): void => {
      clearTimeout(timer)
      backlog.recovered(client.id, drops.get(socket) ?? 0)
      drops.delete(socket)
    }
    socket.once('drain', recovered)
  }

  /** true when a message for the client is to be dropped, since it is behind: counted */
  const behind = (client: Client, socket: net.Socket): boolean => {
    const dropped = drops.get(socket)
    if (dropped !== undefined) drops.set(socket, dropped + 1)
    else if (socket.writableLength > BACKLOG_BYTES) startDropping(client, socket)
    else return false
    droppedBehind++
    return true
  }

  /** false when the frame was dropped (a subscriber behind: counted) or the socket is gone */
  const write = (client: Client, frame: Buffer): boolean => {
    const socket = internalsOf(client).conn
    if (socket.destroyed || behind(client, socket)) return false
    writeSoon(socket, frame)
    return true
  }

  return {
    publish ({ topic, payload, frame }) {
      const subscribers = subscribersOf(topic)
      const { clients: to, hookCounts } = subscribers
      for (let i = 0; i < to.length; i++) {
        const client = to[i] as Client
        if (!internalsOf(client).connected) continue
        if (write(client, frame) && hookCounts !== null) (hookCounts[i] as HookCounts).in++
      }
      if (subscribers.inProcess.length > 0) {
        // the reader's view of the payload is only valid during this call; an in-process handler may keep it
        const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, messageId: 0, brokerId: aedes.id, brokerCounter: 0 } as AedesPublishPacket
        for (const deliver of subscribers.inProcess) deliver(packet, noop)
      }
    },
    publishTo (clientId, { topic, frame }) {
      // among the topic's subscribers, already found: no lookup by id in Aedes's table of clients
      for (const client of subscribersOf(topic).clients) {
        if (client.id !== clientId) continue
        if (!internalsOf(client).connected) return false
        write(client, frame)
        return true
      }
      return false
    },
    behind: client => behind(client, internalsOf(client).conn),
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
