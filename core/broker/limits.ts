// Limits against a misbehaving client, per listener (like Mosquitto's per-listener max_connections):
// maximum packet size, maximum clients, and a per-client message rate. Everything here runs on the broker's
// hot path, so it is a few integer operations per chunk or message.

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
  /** the longest the router waits for a reply, whatever `timeout` a request names */
  maxCallTimeoutMs: 600_000,
  /** the longest reply topic a request may name, in bytes */
  replyTopicBytes: 256,
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
  /** a larger MQTT packet closes the connection (MQTT 3.1.1 cannot refuse one packet) */
  maxPacketBytes: number
  /** publishes per client; null: unlimited */
  rate: RateLimit | null
}

export interface LimitsInput {
  maxClients?: number | undefined
  maxPacketBytes?: number | undefined
  rate?: { messagesPerSecond?: number | undefined, burst?: number | undefined, action?: 'throttle' | 'disconnect' | undefined } | undefined
}

/** Operator listeners: generous for a person or a script, far below what would starve the modules. */
export const DEFAULT_LIMITS: ListenerLimits = {
  maxClients: 32,
  maxPacketBytes: 256 * 1024,
  rate: { messagesPerSecond: 500, burst: 1000, action: 'throttle' },
}

export function listenerLimits (input: LimitsInput | undefined): ListenerLimits {
  const rate = { ...DEFAULT_LIMITS.rate, ...stripUndefined(input?.rate ?? {}) } as RateLimit
  return {
    maxClients: input?.maxClients ?? DEFAULT_LIMITS.maxClients,
    maxPacketBytes: input?.maxPacketBytes ?? DEFAULT_LIMITS.maxPacketBytes,
    rate,
  }
}

/**
 * The module socket: the core's own processes, which it supervises and budgets. Their throughput is the
 * product, so no rate limit and no client cap; their packets may be as large as any listener allows, so a
 * module can pass on what an operator sent it.
 */
export function moduleSocketLimits (listeners: ListenerLimits[]): ListenerLimits {
  const largest = Math.max(DEFAULT_LIMITS.maxPacketBytes, ...listeners.map(l => l.maxPacketBytes))
  return { maxClients: Number.MAX_SAFE_INTEGER, maxPacketBytes: largest, rate: null }
}

function stripUndefined<T extends object> (value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

export interface RateGate {
  /** calls `go` now, or later when throttling; returns false if the client is over its rate and must go */
  admit (go: () => void): boolean
  /** true once per throttling episode, for one log line instead of one per message */
  readonly throttling: boolean
}

/** A token bucket per client: `burst` messages at once, refilled at `messagesPerSecond`. */
export function rateGate (limit: RateLimit, now: () => number = Date.now): RateGate {
  let tokens = limit.burst
  let last = now()
  let throttling = false
  const refill = (): void => {
    const t = now()
    tokens = Math.min(limit.burst, tokens + ((t - last) * limit.messagesPerSecond) / 1000)
    last = t
  }
  return {
    get throttling () { return throttling },
    admit (go) {
      refill()
      if (tokens >= 1) {
        tokens -= 1
        throttling = false
        go()
        return true
      }
      if (limit.action === 'disconnect') return false
      // Throttle: the message waits for its token. Aedes reads a client's next packets only once the
      // current ones are done, so a waiting message also stops the socket being read: TCP backpressure.
      tokens -= 1
      throttling = true
      setTimeout(go, Math.ceil((-tokens * 1000) / limit.messagesPerSecond))
      return true
    },
  }
}
