// The embedded Aedes broker and its listeners. This file is the one adapter between Aedes's callback hooks
// and Outpost's connection rules (authentication, limits.ts, subscriptions by access.ts) and its publishing
// (publishing.ts: access, RPC routing, the direct path): the rest of the core sees plain functions. Broker
// hooks run on every message, so everything here is synchronous and cheap. No exception raised while a
// client's bytes are handled may escape into Aedes (it would crash the core): every hook below runs inside
// `guarded`, which turns a throw into a logged refusal.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { readFileSync, rmSync, chmodSync } from 'node:fs'
import { Aedes } from 'aedes'
import mqttPacket from 'mqtt-packet'
import type { Client, AedesPublishPacket, AuthenticateError, PublishPacket } from 'aedes'
import { OutpostError } from '../errors.js'
import { MAX_TOPIC_BYTES, parseClientId, topicTooLong } from '../protocol/topics.js'
import { canSubscribe, describe, isAdmin } from './access.js'
import type { Identity } from './access.js'
import { clientIdProblem, sessionOwners } from './client-ids.js'
import { REFUSAL_LOG_WINDOW_MS, clientSlots } from './client-slots.js'
import type { ClientLimit, ClientSlots } from './client-slots.js'
import { MAX_SUBSCRIPTIONS, listenerLimits, moduleSocketLimits, listenerRateGates, pendingGate } from './limits.js'
import type { LimitsInput, ListenerLimits, PendingGate, PendingSlot, ListenerRateGates, RateGate, StoreLimits } from './limits.js'
import { keepAlive } from './direct.js'
import { LOGIN_THROTTLE, createLoginThrottle } from './login-throttle.js'
import { refusalLog } from './refusal-log.js'
import { subscriptionCharges } from './subscription-charges.js'
import { MAX_LINE_SECONDS, waitLines } from './wait-line.js'
import type { LoginThrottle } from './login-throttle.js'
import { createPublishing } from './publishing.js'
import type { RetainedUse } from './retained.js'
import type { RefusedRequest } from './rpc-router.js'
import { readThrough } from './reader.js'
import { batchWrites } from './writes.js'
import type { Traffic } from './traffic.js'
import { socketTally } from './socket-tally.js'
import type { SocketTally } from './socket-tally.js'
import { slotsAcrossHandshake } from './handshake-slots.js'
import { createWebSocketServer } from './ws-listener.js'
import type { WebSocketListenerConfig } from './ws-listener.js'

export type ListenerConfig =
  | { type: 'tcp', host: string, port: number, anonymous?: boolean, limits?: LimitsInput }
  | { type: 'tls', host: string, port: number, cert: string, key: string, ca?: string, requireClientCert?: boolean, limits?: LimitsInput }
  | { type: 'unix', path: string, anonymous?: boolean, limits?: LimitsInput }
  | (WebSocketListenerConfig & { limits?: LimitsInput })

export interface BoundListener {
  config: ListenerConfig
  /** URL a client uses: mqtt://host:port, mqtts://host:port, ws://host:port/path, wss://host:port/path or unix:/path */
  url: string
}

/** One listener's connections since the broker started (rpc/core/metrics). */
export interface ListenerStats {
  /** the module socket, or an operator listener's config */
  config: ListenerConfig
  /** sockets open now, authenticated or not */
  connections: number
  /** clients logged in now */
  clients: number
  /** bytes read from and written to its connections, as Node counts them on each socket (closed ones included) */
  bytesIn: number
  bytesOut: number
}

export type AuthResult = Identity | { refused: 'bad-credentials' | 'not-authorised', why: string }

export interface Authenticator {
  /** Returns who the client is, or a reason for refusing it (a promise when a password hash must be checked). */
  authenticate (request: { clientId: string, username: string | undefined, password: string | undefined, listener: ListenerConfig }): AuthResult | Promise<AuthResult>
}

export interface DeniedEvent { identity: Identity | undefined, clientId: string, action: 'publish' | 'subscribe' | 'connect', what: string, why: string }

/** What the broker tells extensions (management audits denied calls to core and logs throttling). */
export interface BrokerEvents {
  denied: [event: DeniedEvent]
  throttled: [event: { identity: Identity, clientId: string, messagesPerSecond: number }]
}

export interface BrokerHooks {
  /**
   * A request to a module (rpc/<module>/<method>, not core) that the access rules allowed: the client id of
   * the one instance that gets it, or null for no one (RPC to replicas, docs/supervision.md).
   */
  recipient?: (topic: string, payload: Buffer, caller: Identity) => string | null | RefusedRequest
  /** A module's reply that the access rules allowed: whether it answers a request that module holds (else it is dropped). */
  replied?: (identity: Identity, topic: string, payload: Buffer) => boolean
  onDenied?: (event: DeniedEvent) => void
  onClientReady?: (clientId: string, identity: Identity) => void
  onClientGone?: (clientId: string, identity: Identity, reason: 'disconnect' | 'keepalive-timeout' | 'error') => void
  /** a subscriber fell behind (its messages are dropped), caught up again, or was disconnected for it (direct.ts) */
  onBacklog?: (event: BacklogEvent) => void
  /** a broker hook threw while handling a client's bytes: the client was refused (or disconnected) instead */
  onHookError?: (event: { hook: string, clientId: string, error: unknown }) => void
}

export type BacklogEvent =
  | { clientId: string, state: 'dropping', unsentBytes: number }
  | { clientId: string, state: 'recovered', dropped: number, answered: number }
  | { clientId: string, state: 'disconnected', dropped: number }

export interface BrokerOptions {
  moduleSocket: string
  listeners: ListenerConfig[]
  authenticator: Authenticator
  hooks?: BrokerHooks
  /** one stuck subscriber holds shared delivery slots until this: keep it short on a gateway */
  drainTimeoutMs?: number
  concurrency?: number
  /** what one client may make the broker hold (limits.ts STORE_LIMITS) */
  storeLimits?: Partial<StoreLimits>
}

/** connections refused (or evicted) at each listener limit, counted since the core started */
export interface ListenerCounts {
  /** clients logged in now, and connections not yet logged in */
  clients: number
  pending: number
  /** connections not yet authenticated closed to make room for a newer one (maxPending, maxPendingPerAddress) */
  pendingEvicted: number
  /** connections closed at once: every pending slot held by a connection whose CONNECT arrived */
  pendingRefused: number
  /** CONNACK 3 at maxClients, at maxClientsPerUser, and for viewers at the admin reserve */
  maxClients: number
  maxClientsPerUser: number
  adminReserve: number
}

export interface LimitCounts {
  listeners: ListenerCounts[]
  logins: ReturnType<LoginThrottle['counts']>
}

export interface Broker {
  aedes: Aedes
  /** in-process subscription (the core's own): delivered by Aedes, so the direct path leaves its topics to it */
  subscribe (filter: string, deliver: (packet: AedesPublishPacket, done: () => void) => void): Promise<void>
  unsubscribe (filter: string, deliver: (packet: AedesPublishPacket, done: () => void) => void): Promise<void>
  moduleUrl: string
  listeners: BoundListener[]
  identityOf (client: Client): Identity | undefined
  events: EventEmitter<BrokerEvents>
  /** whether `caller` may name `reply` as its reply topic (its own, or a connection of the same caller) */
  answersTo (caller: Identity, reply: string): boolean
  /** the retained messages one owner holds (access.ts retainOwner: `module <name>`, …) */
  retainedBy (owner: string): RetainedUse
  /** the module socket first, then the operator listeners in order */
  listenerStats (): ListenerStats[]
  /** hooks published and delivered, per module instance */
  traffic: Traffic
  /** QoS 0 messages dropped for subscribers that were not reading */
  readonly dropped: number
  /** what the connection limits did so far, per operator listener (in `listeners` order) and for logins */
  limitCounts (): LimitCounts
  close (): Promise<void>
}

/** whose rate bucket a client draws on (limits.ts listenerRateGates): every key names what the manifest or an address bounds */
function rateBucketOf (identity: Identity, client: Client): string {
  switch (identity.kind) {
    case 'operator': return `operator ${identity.user}`
    case 'module': return `module ${identity.clientId}` // <module>.<instance>, one connection at a time
    case 'anonymous': return `anonymous ${(client.conn as Partial<net.Socket>).remoteAddress ?? 'local'}` // a WebSocket's stream carries its socket's (ws-listener.ts)
  }
}

function listen (server: net.Server, config: ListenerConfig): Promise<BoundListener> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      const where = config.type === 'unix' ? config.path : `${config.host}:${config.port}`
      reject(new OutpostError('BROKER_LISTEN', `broker cannot listen on ${config.type} ${where}: ${err.message}`, { cause: err }))
    }
    server.once('error', onError)
    const done = (): void => {
      server.off('error', onError)
      if (config.type === 'unix') {
        chmodSync(config.path, 0o660)
        resolve({ config, url: `unix:${config.path}` })
        return
      }
      const address = server.address() as net.AddressInfo
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
      resolve({ config: { ...config, port: address.port }, url: `${scheme(config)}://${host}:${address.port}${config.type === 'ws' ? config.path ?? '/mqtt' : ''}` })
    }
    if (config.type === 'unix') {
      rmSync(config.path, { force: true })
      server.listen(config.path, done)
    } else server.listen(config.port, config.host, done)
  })
}

function scheme (config: Exclude<ListenerConfig, { type: 'unix' }>): string {
  if (config.type === 'ws') return config.cert === undefined ? 'ws' : 'wss'
  return config.type === 'tls' ? 'mqtts' : 'mqtt'
}

/** a connection must send its CONNECT (and a TLS one finish its handshake before that) within this */
const CONNECT_TIMEOUT_MS = 5000
/** QoS 2 publishes one client may have awaiting their PUBREL (Aedes keeps each whole until then) */
export const MAX_INBOUND_QOS2 = 16

/** What the broker knows of a connection before its client is authenticated. */
interface Connection {
  listener: ListenerConfig
  /** its CONNECT arrived: it is no longer the one evicted to make room (limits.ts pendingGate) */
  connecting (): void
  /** the client logged in: its packets may be as large as the listener allows, and it no longer counts as waiting */
  authenticated (): void
}

export async function startBroker (options: BrokerOptions): Promise<Broker> {
  // Aedes writes packets with mqtt-packet, whose first write otherwise builds a cache of 65 536 two-byte
  // Buffers for message ids and lengths: ≈ 10 MiB of the core's memory for no measurable speed (docs/benchmarks.md).
  mqttPacket.writeToStream.cacheNumbers = false
  const identities = new WeakMap<Client, Identity>()
  const connections = new WeakMap<net.Socket, Connection>()
  const connectionOf = (client: Client): Connection | undefined => connections.get(client.conn as unknown as net.Socket)
  const hooks = options.hooks ?? {}
  const drainTimeoutMs = options.drainTimeoutMs ?? 5000
  const aedes = await Aedes.createBroker({
    drainTimeout: drainTimeoutMs,
    concurrency: options.concurrency ?? 200,
    // Aedes keeps each QoS 2 publish until its PUBREL: 1000 of them by default, 1000 × maxPacketBytes per client
    // (review 7: a viewer's three connections held 850 MiB); a client past this many is disconnected
    maxInflightInbound: MAX_INBOUND_QOS2,
    connectTimeout: CONNECT_TIMEOUT_MS,
    keepaliveLimit: 0,
  })

  const events = new EventEmitter<BrokerEvents>()
  /** runs a hook's body; a throw is reported and answered by `refused` instead of reaching Aedes */
  const guarded = <T>(hook: string, client: Client | null, body: () => T, refused: (error: unknown) => T): T => {
    try {
      return body()
    } catch (error) {
      try {
        hooks.onHookError?.({ hook, clientId: client?.id ?? '', error })
      } catch {}
      return refused(error)
    }
  }
  const refusals = refusalLog(REFUSAL_LOG_WINDOW_MS)
  /** `folded`: a refused subscription that leaves its client connected (refusal-log.ts) */
  const deny = (client: Client | null, action: 'publish' | 'subscribe' | 'connect', what: string, why: string, folded = false): void => {
    const identity = client === null ? undefined : identities.get(client)
    const event = { identity, clientId: client?.id ?? '', action, what, why }
    if (folded && client !== null) {
      const told = refusals.refused(client, what, why)
      if (told !== null) hooks.onDenied?.({ ...event, why: told })
    } else hooks.onDenied?.(event)
    events.emit('denied', event)
  }

  // ── limits (limits.ts): per listener, looked up by the listener a connection came in on ──
  const limitsOf = new Map<ListenerConfig, ListenerLimits>()
  const slotsOf = new Map<ListenerConfig, ClientSlots>()
  const gates = new WeakMap<Client, RateGate>()
  const waiting = waitLines()
  const rateGatesOf = new Map<ListenerConfig, ListenerRateGates>()
  const configured = options.listeners.map(l => listenerLimits(l.limits))
  const moduleLimits = moduleSocketLimits(configured)
  options.listeners.forEach((l, i) => limitsOf.set(l, configured[i] ?? listenerLimits(undefined)))
  const slotsFor = (listener: ListenerConfig): ClientSlots => {
    let slots = slotsOf.get(listener)
    if (slots === undefined) slotsOf.set(listener, slots = clientSlots(limitsOf.get(listener) ?? moduleLimits))
    return slots
  }
  /** CONNACK 3 at a listener limit (and the connection closed after it [MQTT-3.2.2-5]): counted, logged once per window and user */
  const atLimit = (client: Client, slots: ClientSlots, identity: Identity | undefined, refused: { limit: ClientLimit, why: string }, callback: (error: AuthenticateError | null, success: boolean | null) => void): void => {
    if (slots.refused(refused.limit, identity)) {
      const whose = identity?.kind === 'operator' ? ` for ${identity.user}` : ''
      deny(client, 'connect', client.id, `${refused.why} (CONNACK 3; further refusals at this limit${whose} within ${REFUSAL_LOG_WINDOW_MS / 1000} s are counted, not logged)`)
    }
    callback(Object.assign(new Error(refused.why), { returnCode: 3 }) as AuthenticateError, false)
  }
  const owners = sessionOwners()
  const admit = (connection: Connection, client: Client, identity: Identity): void => {
    const { listener } = connection
    const limits = limitsOf.get(listener) ?? moduleLimits
    slotsFor(listener).hold(client.id, identity, release => client.conn.once('close', release))
    if (limits.rate !== null) {
      let rateGates = rateGatesOf.get(listener)
      if (rateGates === undefined) rateGatesOf.set(listener, rateGates = listenerRateGates(limits.rate))
      gates.set(client, rateGates.gateOf(rateBucketOf(identity, client), release => client.conn.once('close', release)))
    }
    identities.set(client, identity)
    owners.hold(identity, client.clean, release => client.conn.once('close', release))
    connection.authenticated()
  }

  // [MQTT-3.1.3-8]: a zero-length client id with clean session 0 gets CONNACK 2. Aedes gives such a
  // client an id of its own before authenticate, so the CONNECT is looked at here, where it still shows.
  const noClientId = new WeakSet<Client>()
  aedes.preConnect = (client, packet, callback) => {
    if (packet.clientId === '' && packet.clean === false) noClientId.add(client)
    publishing.watch(client)
    callback(null, true)
  }

  const moduleListener: ListenerConfig = { type: 'unix', path: options.moduleSocket }
  const logins = createLoginThrottle()
  let busyLogged = -Infinity
  aedes.authenticate = (client, username, password, callback) => guarded('authenticate', client, () => authenticate(client, username, password, callback),
    () => callback(Object.assign(new Error('authentication failed'), { returnCode: 3 }) as AuthenticateError, false))
  const authenticate = (client: Client, username: string | undefined, password: Buffer | undefined, callback: (error: AuthenticateError | null, success: boolean | null) => void): void => {
    const connection = connectionOf(client)
    if (connection === undefined) {
      callback(Object.assign(new Error('unknown listener'), { returnCode: 3 }) as AuthenticateError, false)
      return
    }
    connection.connecting()
    const { listener } = connection
    const refuse = (returnCode: 2 | 3 | 4 | 5, why: string): void => {
      deny(client, 'connect', client.id, why)
      callback(Object.assign(new Error(why), { returnCode }) as AuthenticateError, false)
    }
    // the module socket has no address to throttle guesses by, nor a client limit: module credentials only,
    // refused before any password is hashed (issue 10 review: operators guessed there unthrottled)
    if (listener === moduleListener && (username === undefined || parseClientId(username) === null)) {
      return refuse(5, 'the module socket takes module credentials only: operators connect on an operator listener')
    }
    const badId = noClientId.has(client) ? 'a zero-length client id with clean session 0 [MQTT-3.1.3-8]' : clientIdProblem(client.id)
    if (badId !== null) return refuse(2, badId)
    const slots = slotsFor(listener)
    const tooMany = slots.refusal(client.id)
    if (tooMany !== null) return atLimit(client, slots, undefined, tooMany, callback) // before any password hashing: a full listener costs nothing
    // TCP and TLS connections have an address; on a Unix socket, file permissions decide who may try. The
    // module socket's credentials are compared, not hashed: nothing there to slow down.
    const address = (client.conn as Partial<net.Socket>).remoteAddress
    const user = listener === moduleListener ? undefined : username
    const wait = user === undefined ? 0 : logins.begin(address, user)
    if (wait === null) {
      // counted always, logged once per window: a flood of CONNECTs must not become a flood of log lines
      const t = Date.now()
      if (t - busyLogged >= REFUSAL_LOG_WINDOW_MS) {
        busyLogged = t
        deny(client, 'connect', client.id, `${address ?? 'this address'} has its maximum of ${LOGIN_THROTTLE.inFlight} logins waiting or being checked: CONNACK 3, try again (further such refusals within ${REFUSAL_LOG_WINDOW_MS / 1000} s are counted, not logged)`)
      }
      callback(Object.assign(new Error('too many logins waiting'), { returnCode: 3 }) as AuthenticateError, false)
      return
    }
    let counted = user !== undefined
    /** the check's end, told to the throttle once; true when its failure puts the user past its failures */
    const checked = (failed: boolean): boolean => {
      if (!counted || user === undefined) return false
      counted = false
      return logins.settle(address, user, failed)
    }
    const settle = (result: AuthResult): void => {
      if (checked('refused' in result && result.refused === 'bad-credentials')) {
        const { userFailures, windowMs, maxBackoffMs } = LOGIN_THROTTLE
        deny(client, 'connect', client.id, `${userFailures} failed logins as ${username} (from any address, each within ${windowMs / 1000} s of the last): its password checks now wait their turn, up to ${maxBackoffMs / 1000} s apart`)
      }
      if ('refused' in result) return refuse(result.refused === 'bad-credentials' ? 4 : 5, result.why)
      // a persistent session queues QoS 1 and 2 messages while its client is away, in the core's memory and
      // without a bound Aedes would enforce: only a role that may do anything may hold one (issue 10 review)
      if (!client.clean && !isAdmin(result)) return refuse(5, `a persistent session (clean session 0) is for admins only: ${describe(result)} must connect with clean session 1`)
      const taken = owners.refusal(result, client.clean)
      if (taken !== null) return refuse(taken.returnCode, taken.why) // the holder keeps its session
      const full = slots.refusal(client.id, result)
      if (full !== null) return atLimit(client, slots, result, full, callback)
      if (client.conn.destroyed) return refuse(3, 'connection closed while authenticating')
      admit(connection, client, result)
      callback(null, true)
    }
    const failed = (): void => {
      checked(false)
      refuse(3, 'authentication failed')
    }
    const check = (): void => {
      if (client.conn.destroyed) {
        // gone while it waited its turn: no check, and its turn is given back
        checked(false)
        return refuse(3, 'connection closed while waiting for its password check')
      }
      const result = options.authenticator.authenticate({ clientId: client.id, username, password: password?.toString('utf8'), listener })
      if (result instanceof Promise) {
        result.then(outcome => guarded('authenticate', client, () => settle(outcome), failed), (err: Error) => {
          checked(false)
          refuse(3, `authentication failed: ${err.message}`)
        })
      } else settle(result)
    }
    // a check past its address's rate or its user's failures waits its turn: delayed, never refused
    if (wait > 0) setTimeout(() => guarded('authenticate', client, check, failed), wait)
    else guarded('authenticate', client, check, failed)
  }

  // ── publishing.ts: who gets each publish, and which path delivers it ──
  const publishing = createPublishing({
    aedes,
    identityOf: client => identities.get(client),
    recipient: hooks.recipient,
    replied: hooks.replied,
    drainTimeoutMs,
    ...(options.storeLimits === undefined ? {} : { limits: options.storeLimits }),
    backlog: {
      dropping: (clientId, unsentBytes) => hooks.onBacklog?.({ clientId, state: 'dropping', unsentBytes }),
      recovered: (clientId, dropped, answered) => hooks.onBacklog?.({ clientId, state: 'recovered', dropped, answered }),
      stuck: (clientId, dropped) => hooks.onBacklog?.({ clientId, state: 'disconnected', dropped }),
    },
  })
  const authorizePublish = (client: Client, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
    const refused = guarded('authorizePublish', client, () => publishing.authorize(client, packet), error => `refused: ${(error as Error).message}`)
    if (refused === null) return callback(null)
    deny(client, 'publish', packet.topic, refused)
    // MQTT 3.1.1 has no negative acknowledgement for PUBLISH: the offender is disconnected.
    callback(new Error(`publish to ${packet.topic} denied: ${refused}`))
  }
  aedes.authorizePublish = (client, packet, callback) => {
    if (client === null) return callback(null) // a will published after its client is gone was checked at connect
    guardedGatePublish(client, packet, callback)
  }
  const guardedGatePublish = (client: Client, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
    guarded('authorizePublish', client, () => gatePublish(client, packet, callback), error => {
      deny(client, 'publish', packet.topic, `refused: ${(error as Error).message}`)
      callback(new Error(`publish to ${packet.topic} refused`))
    })
  }
  const gatePublish = (client: Client, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
    const gate = gates.get(client)
    if (gate === undefined) return authorizePublish(client, packet, callback)
    // a SUBSCRIBE earlier in the same read is charged at the next microtask: this publish goes after it, so that
    // the subscription takes effect first (reader.ts) and, throttled, it waits behind it in the client's line
    if (charges.gathering(client)) {
      queueMicrotask(() => guardedGatePublish(client, packet, callback))
      return
    }
    const wasThrottling = gate.throttling
    if (!waiting.admit(client, gate, 1, () => authorizePublish(client, packet, callback))) {
      deny(client, 'publish', packet.topic, `over the listener's rate limit${gate.throttling ? ` by more than ${MAX_LINE_SECONDS} s of messages waiting` : ''}: the client is disconnected`)
      return callback(new Error(`${client.id} is over its rate limit`))
    }
    if (wasThrottling || !gate.throttling) return
    const identity = identities.get(client)
    const listener = connectionOf(client)?.listener
    const rate = ((listener === undefined ? undefined : limitsOf.get(listener)) ?? moduleLimits).rate
    if (identity !== undefined && rate !== null) {
      events.emit('throttled', { identity, clientId: client.id, messagesPerSecond: rate.messagesPerSecond })
    }
  }

  /** why a client may not add this subscription, or null: the access rules, and bounds on what it makes the broker keep */
  const subscriptionProblem = (client: Client, identity: Identity, filter: string): string | null => {
    if (topicTooLong(filter)) return `the filter is longer than ${MAX_TOPIC_BYTES} bytes`
    if (!canSubscribe(identity, filter)) return `${describe(identity)} may not subscribe here`
    // Aedes keeps a client's subscriptions by filter (a SUBSCRIBE of one it has replaces it)
    const held = (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions
    if (!(filter in held) && Object.keys(held).length >= MAX_SUBSCRIPTIONS) return `the client has its maximum of ${MAX_SUBSCRIPTIONS} subscriptions`
    return null
  }
  const charges = subscriptionCharges(client => gates.get(client), waiting, (client, why) => deny(client, 'subscribe', 'a SUBSCRIBE', why))
  aedes.authorizeSubscribe = (client, subscription, callback) => {
    charges.charge(client, subscription.topic, () => {
      const allowed = guarded('authorizeSubscribe', client, () => {
        const identity = identities.get(client)
        const refused = identity === undefined ? 'not authenticated' : subscriptionProblem(client, identity, subscription.topic)
        if (refused === null) return true
        deny(client, 'subscribe', subscription.topic.slice(0, MAX_TOPIC_BYTES), refused, true)
        return false
      }, () => false)
      callback(null, allowed ? subscription : null) // null: SUBACK 0x80 [MQTT-3.9.3-2]
    }, error => callback(error, null))
  }
  aedes.on('unsubscribe', (filters, client) => guarded('unsubscribe', client, () => {
    // a client's own close unsubscribes it from everything: that is not charged
    if (client.closed) return
    const why = charges.unsubscribed(client, filters.length)
    if (why === null) return
    deny(client, 'subscribe', 'an UNSUBSCRIBE', why)
    client.close()
  }, () => undefined))

  aedes.authorizeForward = (client, packet) => guarded('authorizeForward', client, () => (publishing.forward(client, packet) ? packet : null), () => null)

  aedes.on('clientReady', client => guarded('clientReady', client, () => {
    const identity = identities.get(client)
    if (identity !== undefined) hooks.onClientReady?.(client.id, identity)
  }, () => undefined))
  const gone = new WeakSet<Client>()
  const onGone = (reason: 'disconnect' | 'keepalive-timeout' | 'error') => (client: Client): void => guarded(reason, client, () => {
    const identity = identities.get(client)
    if (identity === undefined || gone.has(client)) return
    gone.add(client)
    for (const why of refusals.gone(client)) deny(client, 'subscribe', 'subscriptions', why)
    hooks.onClientGone?.(client.id, identity, reason)
  }, () => undefined)
  aedes.on('keepaliveTimeout', onGone('keepalive-timeout'))
  aedes.on('clientError', onGone('error'))
  aedes.on('clientDisconnect', onGone('disconnect'))

  const servers: Serving[] = []
  const tallies = new Map<ListenerConfig, SocketTally>()
  const listenerStats = (config: ListenerConfig): ListenerStats => {
    const { connections, bytesIn, bytesOut } = tallies.get(config)?.tally() ?? { connections: 0, bytesIn: 0, bytesOut: 0 }
    return { config, connections, clients: slotsFor(config).connected, bytesIn, bytesOut }
  }
  const gatesOf = new Map<ListenerConfig, PendingGate>()
  const serve = async (config: ListenerConfig): Promise<BoundListener> => {
    const limits = limitsOf.get(config) ?? moduleLimits
    const { maxPacketBytes, maxConnectBytes } = limits
    const pending = pendingGate(limits)
    const sockets = socketTally()
    tallies.set(config, sockets)
    gatesOf.set(config, pending)
    let refusing = false // one log line per episode of refused connections, not one per connection
    let evicting = false // the same for evictions
    let refusingUpgrades = false // the same for WebSocket handshakes
    /** a pending slot for a new socket (a TLS one's at its first byte, before the handshake), or null when it was closed */
    const slotFor = (socket: net.Socket): PendingSlot | null => {
      const evictedBefore = pending.counts.evicted
      const slot = pending.enter(socket.remoteAddress, () => {
        if (!evicting) deny(null, 'connect', `a connection from ${socket.remoteAddress ?? config.type}`, `the oldest connection that has not sent its CONNECT, closed to make room for a newer one (logged once until a connection finds a free slot again)`)
        evicting = true
        socket.destroy()
      })
      if (typeof slot === 'string') {
        if (!refusing) deny(null, 'connect', `a connection from ${socket.remoteAddress ?? config.type}`, `${slot}: closed at once (logged once until one is accepted again)`)
        refusing = true
        socket.destroy()
        return null
      }
      if (pending.counts.evicted === evictedBefore) evicting = false
      refusing = false
      socket.once('close', slot.leave)
      return slot
    }
    /** hands a connection (a socket, or a WebSocket as a byte stream) to Aedes through the reader */
    const handle = (socket: net.Socket, slot: PendingSlot, loggedIn?: () => void): void => {
      refusingUpgrades = false
      socket.once('close', slot.leave)
      sockets.track(socket)
      const client = aedes.handle(batchWrites(socket))
      // until the CONNACK, packets are as small as a CONNECT needs: an unauthenticated client holds little
      const reader = {
        maxPacketBytes: maxConnectBytes,
        tooLarge: (bytes: number) => {
          const what = client.connected ? `larger than the listener's maximum of ${maxPacketBytes} bytes` : `larger than the listener's maximum of ${maxConnectBytes} bytes before the CONNACK`
          deny(client, client.connected ? 'publish' : 'connect', `a packet of ${bytes} bytes`, `${what}: the client is disconnected`)
          socket.destroy()
        },
        offering: () => client.connected && !gates.has(client),
        take: publishing.takeDirect(client),
        tookSome: () => keepAlive(client),
      }
      const connection: Connection = {
        listener: config,
        connecting: slot.connecting,
        authenticated: () => {
          reader.maxPacketBytes = maxPacketBytes
          loggedIn?.()
          slot.leave()
        },
      }
      connections.set(socket, connection)
      readThrough(socket, reader)
    }
    // a TLS socket's slot was taken when its TCP connection arrived (handshake-slots.ts): `afterHandshake` finds it
    let afterHandshake: ((secure: net.Socket) => PendingSlot | undefined) | undefined
    const accept = (socket: net.Socket): void => {
      let waiting: PendingSlot | null | undefined
      if (afterHandshake !== undefined) {
        waiting = afterHandshake(socket)
        if (waiting === undefined) {
          socket.destroy() // its TCP connection was evicted, or closed, during the handshake
          return
        }
      } else waiting = slotFor(socket)
      if (waiting === null) return
      if (config.type !== 'tls') socket.setNoDelay(true)
      handle(socket, waiting)
    }
    // node:tls costs the core ≈ 3 MB: loaded only for a TLS listener
    const server = config.type === 'ws'
      ? await createWebSocketServer({
        config,
        limits,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        enter: slotFor,
        handle,
        refused: (address, why) => {
          if (!refusingUpgrades) deny(null, 'connect', `a WebSocket upgrade from ${address ?? 'an unknown address'}`, `${why}: refused (logged once until one is accepted again)`)
          refusingUpgrades = true
        },
      })
      : config.type === 'tls'
      ? (await import('node:tls')).createServer({
        cert: readFileSync(config.cert),
        key: readFileSync(config.key),
        ...(config.ca === undefined ? {} : { ca: readFileSync(config.ca) }),
        requestCert: config.requireClientCert === true,
        rejectUnauthorized: config.requireClientCert === true,
      }, accept)
      : net.createServer(accept)
    if (config.type === 'tls') afterHandshake = slotsAcrossHandshake(server, slotFor, CONNECT_TIMEOUT_MS)
    // every socket: the logged-in clients and those waiting, and room for as many evicted ones still closing
    server.maxConnections = limits.maxClients + 2 * limits.maxPending
    servers.push(openSockets(server))
    return listen(server, config)
  }

  try {
    const moduleSocket = await serve(moduleListener)
    const listeners: BoundListener[] = []
    for (const config of options.listeners) listeners.push(await serve(config))
    return {
      aedes,
      subscribe: publishing.subscribe,
      unsubscribe: publishing.unsubscribe,
      moduleUrl: moduleSocket.url,
      listeners,
      identityOf: client => identities.get(client),
      events,
      answersTo: publishing.answersTo,
      retainedBy: publishing.retainedBy,
      listenerStats: () => [moduleListener, ...options.listeners].map(listenerStats),
      traffic: publishing.traffic,
      get dropped () {
        return publishing.dropped
      },
      limitCounts: () => ({
        listeners: options.listeners.map(l => ({
          clients: slotsFor(l).connected,
          pending: gatesOf.get(l)?.waiting ?? 0,
          ...slotsFor(l).counts,
          pendingEvicted: gatesOf.get(l)?.counts.evicted ?? 0,
          pendingRefused: gatesOf.get(l)?.counts.refused ?? 0,
        })),
        logins: logins.counts(),
      }),
      close: () => closeAll(aedes, servers),
    }
  } catch (err) {
    await closeAll(aedes, servers)
    throw err
  }
}

/** a listener and every socket it accepted that is still open, whether or not Aedes ever got it */
interface Serving { server: net.Server, sockets: Set<net.Socket> }

function openSockets (server: net.Server): Serving {
  const sockets = new Set<net.Socket>() // at most the server's maxConnections
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return { server, sockets }
}

/** how long connections get to end after Aedes closed its clients (what they were sent still goes out) */
const CLOSE_GRACE_MS = 1000

/**
 * Aedes closes its clients, and their sockets end once what they were sent is written; what Aedes never had
 * (a TLS handshake, a WebSocket upgrade under way) is closed after CLOSE_GRACE_MS, or server.close() would
 * wait for it as long as its peer keeps it open.
 */
async function closeAll (aedes: Aedes, servers: Serving[]): Promise<void> {
  await new Promise<void>(resolve => aedes.close(() => resolve()))
  await Promise.all(servers.map(({ server, sockets }) => new Promise<void>(resolve => {
    if (!server.listening) return resolve()
    const late = setTimeout(() => { for (const socket of sockets) socket.destroy() }, CLOSE_GRACE_MS)
    server.close(() => {
      clearTimeout(late)
      resolve()
    })
  })))
}

