// Limits against a misbehaving client, per listener (like Mosquitto's per-listener max_connections):
// maximum packet size, maximum clients, and a per-client message rate; and, for connections not yet
// authenticated (which cost the core memory before anyone knows who they are), how many may wait at once
// and how large their CONNECT may be. Everything here runs on the broker's
// hot path, so it is a few integer operations per chunk or message.
import { performance } from 'node:perf_hooks'

/**
 * What one client may make the broker hold, beyond its connection: retained messages (kept until replaced,
 * for as long as the core runs) and RPC calls in flight (kept until the reply or the timeout). The same for
 * every client, modules included; docs/manifest.md lists them.
 */
export const STORE_LIMITS = {
  /** retained topics one publisher (a module, an operator user, anonymous clients) may hold at once */
  retainedTopics: 64,
  /** bytes of retained payloads one publisher may hold at once */
  retainedBytes: 1 << 20,
  /** calls in flight through the RPC router, all callers together */
  pendingCalls: 4096,
  /** calls in flight from one caller (its reply topic) to one module instance */
  pendingCallsPerCaller: 256,
  /**
   * calls in flight from one identity, all its connections and targets together: an operator user, a module
   * (all its instances), anonymous clients of one role; so no one of them takes the gateway's pendingCalls
   */
  pendingCallsPerIdentity: 1024,
  /** the longest the router waits for a reply, whatever `timeout` a request names */
  maxCallTimeoutMs: 600_000,
}

export type StoreLimits = typeof STORE_LIMITS

export interface RateLimit {
  messagesPerSecond: number
  burst: number
  /** throttle: stop reading the client's socket until it is back under the rate; disconnect: close it */
  action: 'throttle' | 'disconnect'
}

export interface ListenerLimits {
  /** clients connected at once through this listener; more get CONNACK 3 (server unavailable) */
  maxClients: number
  /** clients of one operator user connected at once through this listener; more get CONNACK 3 */
  maxClientsPerUser: number
  /** the last this many of maxClients are for admins: a viewer past maxClients - adminReserve gets CONNACK 3 */
  adminReserve: number
  /** a larger MQTT packet closes the connection (MQTT 3.1.1 cannot refuse one packet) */
  maxPacketBytes: number
  /** publishes per operator user (its connections through this listener together), else per client; null: unlimited */
  rate: RateLimit | null
  /** connections not yet authenticated (TCP accepted, CONNECT unsent or its password being checked); more are closed at once */
  maxPending: number
  /** the same, from one address (TCP and TLS) */
  maxPendingPerAddress: number
  /** every packet before the CONNACK, the CONNECT included, is at most this large; else the connection is closed */
  maxConnectBytes: number
}

export interface LimitsInput {
  maxClients?: number | undefined
  maxClientsPerUser?: number | undefined
  adminReserve?: number | undefined
  maxPacketBytes?: number | undefined
  maxPending?: number | undefined
  maxPendingPerAddress?: number | undefined
  maxConnectBytes?: number | undefined
  rate?: { messagesPerSecond?: number | undefined, burst?: number | undefined, action?: 'throttle' | 'disconnect' | undefined } | undefined
}

/** Operator listeners: generous for a person or a script, far below what would starve the modules. */
export const DEFAULT_LIMITS: ListenerLimits = {
  maxClients: 32,
  // a person's shell, a dashboard and a few scripts; one viewer account cannot fill the listener
  maxClientsPerUser: 8,
  // viewers cannot fill the gateway against its admins
  adminReserve: 4,
  maxPacketBytes: 256 * 1024,
  rate: { messagesPerSecond: 500, burst: 1000, action: 'throttle' },
  // a CONNECT holds a client id (≤ 128 bytes), a user name, a password and perhaps a will: 16 KiB is ample,
  // and 64 waiting connections then hold at most 1 MiB
  maxPending: 64,
  maxPendingPerAddress: 16,
  maxConnectBytes: 16 * 1024,
}

export function listenerLimits (input: LimitsInput | undefined): ListenerLimits {
  const rate = { ...DEFAULT_LIMITS.rate, ...stripUndefined(input?.rate ?? {}) } as RateLimit
  const maxClients = input?.maxClients ?? DEFAULT_LIMITS.maxClients
  return {
    maxClients,
    maxClientsPerUser: input?.maxClientsPerUser ?? DEFAULT_LIMITS.maxClientsPerUser,
    // the default reserve leaves viewers at least one slot on a small listener
    adminReserve: input?.adminReserve ?? Math.min(DEFAULT_LIMITS.adminReserve, maxClients - 1),
    maxPacketBytes: input?.maxPacketBytes ?? DEFAULT_LIMITS.maxPacketBytes,
    rate,
    maxPending: input?.maxPending ?? DEFAULT_LIMITS.maxPending,
    maxPendingPerAddress: input?.maxPendingPerAddress ?? DEFAULT_LIMITS.maxPendingPerAddress,
    maxConnectBytes: input?.maxConnectBytes ?? DEFAULT_LIMITS.maxConnectBytes,
  }
}

/**
 * The module socket: the core's own processes, which it supervises and budgets. Their throughput is the
 * product, so no rate limit and no client cap; their packets may be as large as any listener allows, so a
 * module can pass on what an operator sent it. Connections not yet authenticated are bounded all the same
 * (any process allowed to open the socket can connect), generously: every instance of every module
 * (16 instances of many modules) may connect at once at boot.
 */
export const MODULE_SOCKET_PENDING = 1024

export function moduleSocketLimits (listeners: ListenerLimits[]): ListenerLimits {
  const largest = Math.max(DEFAULT_LIMITS.maxPacketBytes, ...listeners.map(l => l.maxPacketBytes))
  return {
    maxClients: Number.MAX_SAFE_INTEGER,
    // a module instance's credential is bound to its client id, so it has one connection at most
    maxClientsPerUser: Number.MAX_SAFE_INTEGER,
    adminReserve: 0,
    maxPacketBytes: largest,
    rate: null,
    maxPending: MODULE_SOCKET_PENDING,
    maxPendingPerAddress: MODULE_SOCKET_PENDING, // a Unix socket has no address
    maxConnectBytes: DEFAULT_LIMITS.maxConnectBytes,
  }
}

function stripUndefined<T extends object> (value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

export interface RateGate {
  /**
   * Takes `cost` tokens at once: 0 when they were there; when throttling, the milliseconds until they are
   * (taken already: the caller waits that long); -1 when the client is over its rate and must go.
   */
  take (cost: number): number
  /**
   * Takes `cost` tokens for what was done already and could not wait (an UNSUBSCRIBE: Aedes asks nothing
   * before it). Under `disconnect`, false when they are not there (the client must go). Under `throttle`,
   * always true: the client owes them, and what its user sends next waits longer, but never more than a burst
   * is owed so, whoever else shares the bucket.
   */
  owe (cost: number): boolean
  /** gives back tokens taken for what was then dropped unsent (a closed connection's waiting packets) */
  give (cost: number): void
  /** true once per throttling episode, for one log line instead of one per message */
  readonly throttling: boolean
  /** whether the bucket has refilled to its burst: one that is full is as good as a new one */
  full (): boolean
  /** the rate it keeps */
  readonly limit: RateLimit
}

/** milliseconds on a clock that never steps back (review 8: a wall clock set back an hour by NTP stalled every throttled client an hour) */
export const monotonicNow = (): number => performance.now()

/** A token bucket per client: `burst` messages at once, refilled at `messagesPerSecond`. */
export function rateGate (limit: RateLimit, now: () => number = monotonicNow): RateGate {
  let tokens = limit.burst
  let last = now()
  let throttling = false
  const refill = (): void => {
    const t = now()
    tokens = Math.min(limit.burst, tokens + ((t - last) * limit.messagesPerSecond) / 1000)
    last = t
  }
  const take = (cost: number): number => {
    refill()
    if (tokens >= cost) {
      tokens -= cost
      throttling = false
      return 0
    }
    if (limit.action === 'disconnect') return -1
    // Throttle: what is paid for waits for its tokens (wait-line.ts). Aedes reads a client's next packets only
    // once the current ones are done, so a waiting packet also stops the socket being read: TCP backpressure.
    tokens -= cost
    throttling = true
    return Math.ceil((-tokens * 1000) / limit.messagesPerSecond)
  }
  return {
    limit,
    get throttling () { return throttling },
    full () {
      refill()
      return tokens >= limit.burst
    },
    take,
    owe (cost) {
      refill()
      if (limit.action === 'disconnect') {
        if (tokens < cost) return false
        tokens -= cost
        return true
      }
      tokens = Math.max(tokens - cost, Math.min(tokens, -limit.burst))
      return true
    },
    give (cost) {
      tokens = Math.min(limit.burst, tokens + cost)
    },
  }
}

export interface ListenerRateGates {
  /** the gate of a client that has just logged in, by whose bucket it draws on; `onClose` is given what to call when its connection closes */
  gateOf (bucket: string, onClose: (release: () => void) => void): RateGate
  /** buckets held: those with a connection, and those of clients gone that have not refilled yet */
  readonly buckets: number
}

/** buckets held at once beyond which those of clients gone that have refilled are forgotten */
const BUCKETS_KEPT = 1024

/**
 * The rate gates of one listener. A bucket belongs to who is on the other end, not to a connection: one
 * operator user's connections share one (opening more, up to maxClientsPerUser, adds no rate), as do one
 * address's anonymous clients, and a module instance has its own. A bucket outlives its connections until
 * it has refilled, so that closing and opening a connection again gives no fresh burst (review 5: 40
 * connections in turn got 4000 messages through a limit of 350).
 */
export function listenerRateGates (limit: RateLimit, now: () => number = monotonicNow): ListenerRateGates {
  const held = new Map<string, { gate: RateGate, clients: number }>()
  const forgetRefilled = (): void => {
    for (const [key, bucket] of held) if (bucket.clients === 0 && bucket.gate.full()) held.delete(key)
  }
  return {
    gateOf (key, onClose) {
      let bucket = held.get(key)
      if (bucket === undefined) {
        if (held.size >= BUCKETS_KEPT) forgetRefilled()
        held.set(key, bucket = { gate: rateGate(limit, now), clients: 0 })
      }
      bucket.clients++
      const mine = bucket
      onClose(() => { mine.clients-- })
      return mine.gate
    },
    get buckets () {
      forgetRefilled()
      return held.size
    },
  }
}

export interface PendingSlot {
  /** the connection stops waiting (authenticated, or closed): its slot is free; idempotent */
  leave (): void
  /** its CONNECT arrived (its password may be being checked): it is no longer the one evicted */
  connecting (): void
}

export interface PendingGate {
  /**
   * A connection arrived from `address` (undefined on a Unix socket): its slot, or why it must be closed now.
   * When the listener (or the address) has all its slots taken, the oldest connection that has not sent its
   * CONNECT yet is evicted (`evict` of that connection is called, and its slot is the new one's), so sockets
   * that never log in cannot keep anyone out: a newcomer loses its slot only after maxPending newer
   * connections came before its CONNECT did. Only when every slot is held by a connection whose CONNECT
   * arrived is the new one refused.
   */
  enter (address: string | undefined, evict: () => void): PendingSlot | string
  /** connections evicted so far, and refused */
  readonly counts: { evicted: number, refused: number }
  /** connections waiting now */
  readonly waiting: number
}

interface Waiting { address: string | undefined, evict: () => void, left: boolean }

/** Connections not yet authenticated, counted per listener and per address against maxPending and maxPendingPerAddress. */
export function pendingGate (limits: ListenerLimits): PendingGate {
  // not yet connecting, oldest first (a Set keeps insertion order): the ones eviction takes
  const silent = new Set<Waiting>()
  let waiting = 0
  const byAddress = new Map<string, number>() // only addresses with connections waiting: bounded by maxPending
  const counts = { evicted: 0, refused: 0 }
  const release = (entry: Waiting): void => {
    if (entry.left) return
    entry.left = true
    silent.delete(entry)
    waiting--
    if (entry.address === undefined) return
    const n = (byAddress.get(entry.address) ?? 1) - 1
    if (n === 0) byAddress.delete(entry.address)
    else byAddress.set(entry.address, n)
  }
  /** evicts the oldest silent connection (of `address`, when given): false when there is none */
  const evictOldest = (address?: string): boolean => {
    for (const entry of silent) {
      if (address !== undefined && entry.address !== address) continue
      release(entry)
      counts.evicted++
      entry.evict()
      return true
    }
    return false
  }
  return {
    counts,
    get waiting () { return waiting },
    enter (address, evict) {
      if (address !== undefined && (byAddress.get(address) ?? 0) >= limits.maxPendingPerAddress && !evictOldest(address)) {
        counts.refused++
        return `${address} has its maximum of ${limits.maxPendingPerAddress} connections not yet authenticated, each with its CONNECT sent`
      }
      if (waiting >= limits.maxPending && !evictOldest()) {
        counts.refused++
        return `the listener has its maximum of ${limits.maxPending} connections not yet authenticated, each with its CONNECT sent`
      }
      const entry: Waiting = { address, evict, left: false }
      waiting++
      silent.add(entry)
      if (address !== undefined) byAddress.set(address, (byAddress.get(address) ?? 0) + 1)
      return {
        leave: () => release(entry),
        connecting: () => { silent.delete(entry) },
      }
    },
  }
}

/**
 * Subscriptions one client may hold (a SUBSCRIBE past it gets SUBACK 0x80 for that filter): a module needs a
 * handful, an operator's tool a few dozen, and each one is kept, with its filter, for the client's session.
 */
export const MAX_SUBSCRIPTIONS = 256
