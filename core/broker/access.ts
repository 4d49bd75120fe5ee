// Who may do what on the bus. Pure functions over an Identity: the broker adapter (broker.ts) is the only
// place that turns Aedes's callbacks into calls of these, so the rules are testable without a broker.
import { decode, encode, sniffFormat } from '../protocol/codec.js'
import { WRONG_TYPE, readEnvelopeHead } from '../protocol/envelope-head.js'
import { CORE_MODULE, parseTopic } from '../protocol/topics.js'

export type Role = 'admin' | 'viewer'

export type Identity =
  | { kind: 'module', clientId: string, module: string, instance: number, calls: ReadonlySet<string> | '*' }
  | { kind: 'operator', clientId: string, user: string, role: Role }
  | { kind: 'anonymous', clientId: string, role: Role }

/** the built-in module serving metrics over HTTP (manifest/metrics.ts): it may call only the methods below on core */
const METRICS_MODULE = 'metrics'

/** Core methods that only read; a viewer may call these and nothing else. */
export const READ_ONLY_CORE_METHODS = new Set(['list', 'status', 'info', 'logs', 'metrics'])
/** The shipped tracing module's methods, which only read (docs/observability.md); a viewer may call these too. */
export const READ_ONLY_TRACING_METHODS = new Set(['list', 'show', 'stats'])

export function describe (identity: Identity): string {
  switch (identity.kind) {
    case 'module': return `module ${identity.clientId}`
    case 'operator': return `operator ${identity.user} (${identity.role}) as ${identity.clientId}`
    case 'anonymous': return `anonymous client ${identity.clientId}`
  }
}

function roleOf (identity: Identity): Role | null {
  return identity.kind === 'module' ? null : identity.role
}

export function canPublish (identity: Identity, topic: string): boolean {
  const parsed = parseTopic(topic)
  if (identity.kind === 'module') {
    if (parsed === null) return false
    switch (parsed.kind) {
      case 'hook': return parsed.owner === identity.module
      // spans name their module and instance by the topic, so a module can send only its own (the tracing
      // module takes both from the topic, never from the payload)
      case 'presence': case 'spans': return parsed.owner === identity.module && parsed.name === String(identity.instance)
      case 'reply': return true
      case 'rpc':
        // the built-in metrics module reads and never changes (manifest/metrics.ts): its name is reserved
        if (parsed.owner === CORE_MODULE) return identity.calls !== '*' && identity.calls.has(CORE_MODULE) && (identity.module !== METRICS_MODULE || READ_ONLY_CORE_METHODS.has(parsed.name))
        return identity.calls === '*' || identity.calls.has(parsed.owner)
      case 'state': return false
    }
  }
  const role = roleOf(identity)
  if (role === 'admin') return parsed === null || (parsed.kind !== 'state' && parsed.kind !== 'presence' && parsed.kind !== 'spans')
  // viewers: read-only core calls and traces, and nothing that changes anything
  return parsed !== null && parsed.kind === 'rpc' &&
    ((parsed.owner === CORE_MODULE && READ_ONLY_CORE_METHODS.has(parsed.name)) || (parsed.owner === 'tracing' && READ_ONLY_TRACING_METHODS.has(parsed.name)))
}

/**
 * Whether the identity may subscribe to `filter`. A filter that starts with a wildcard (`#`, `+/…`) is
 * granted to everyone, as Mosquitto's ACLs do: what it matches is filtered at delivery by canRead, on both
 * delivery paths, so it never brings another client's reply or anything else the identity may not read.
 */
export function canSubscribe (identity: Identity, filter: string): boolean {
  const first = filter.charCodeAt(0)
  if (first === 0x23 || first === 0x2b) return true // '#', '+' (neither matches a $ topic [MQTT-4.7.2-1])
  return canRead(identity, filter)
}

/** An operator or anonymous client with the admin role: one that may do anything on the gateway. */
export function isAdmin (identity: Identity): boolean {
  return identity.kind !== 'module' && identity.role === 'admin'
}

/** Whether a message on `topic` may reach the identity; for a filter without a leading wildcard, whether it may subscribe to it. */
export function canRead (identity: Identity, topic: string): boolean {
  // $SYS/… (Aedes's own: every client id that connects, among others) is for operators with the admin role
  // (not for anonymous clients, who could be any local user)
  if (topic.charCodeAt(0) === 0x24) return identity.kind === 'operator' && identity.role === 'admin'
  // Replies are private to their caller: only the exact own reply topic may be subscribed.
  if (topic.startsWith('reply/')) return topic === `reply/${identity.clientId}`
  if (identity.kind === 'module') {
    // every module's log lines and the audit trail are for operators: a module's log may hold what its neighbours should not read
    if (topic.startsWith('hooks/core/')) return !topic.startsWith('log/', 11) && !topic.startsWith('audit', 11)
    if (topic.startsWith('hooks/') || topic.startsWith('state/') || topic.startsWith('presence/') || topic.startsWith('spans/')) return true
    // a module serves only its own RPC topics
    return topic.startsWith('rpc/') && topic.startsWith(identity.module, 4) && topic.charCodeAt(4 + identity.module.length) === 0x2f && !topic.includes('#')
  }
  // operators watch everything except other callers' replies and RPC requests in flight
  return !topic.startsWith('rpc/')
}

// ── Who called core ──
// A request's `from` is self-declared. For requests to `core` the broker overwrites it with the
// authenticated identity of the connection that published it, so the management API and its audit log act
// on who really asked. The tag is plain text so it survives JSON and CBOR alike; user names cannot contain
// ":" (manifest schema), so the client id is whatever follows the fixed fields.

export type Caller =
  | { kind: 'module', clientId: string }
  | { kind: 'fleet', role: Role, user: string, clientId: string }
  | { kind: 'operator', role: Role, user: string, clientId: string }
  | { kind: 'anonymous', role: Role, clientId: string }

export function callerOf (identity: Identity): Caller {
  switch (identity.kind) {
    case 'module': return { kind: 'module', clientId: identity.clientId }
    case 'operator': return { kind: 'operator', role: identity.role, user: identity.user, clientId: identity.clientId }
    case 'anonymous': return { kind: 'anonymous', role: identity.role, clientId: identity.clientId }
  }
}

export function callerTag (identity: Identity): string {
  switch (identity.kind) {
    case 'module': return `module:${identity.clientId}`
    case 'operator': return `operator:${identity.role}:${identity.user}:${identity.clientId}`
    case 'anonymous': return `anonymous:${identity.role}:${identity.clientId}`
  }
}

function isRole (value: string | undefined): value is Role {
  return value === 'admin' || value === 'viewer'
}

export function parseCallerTag (tag: string | undefined): Caller | null {
  if (tag === undefined) return null
  const [kind, a, b] = tag.split(':')
  if (kind === 'module' && a !== undefined) return { kind, clientId: tag.slice('module:'.length) }
  if (kind === 'anonymous' && isRole(a) && b !== undefined) return { kind, role: a, clientId: tag.slice(`anonymous:${a}:`.length) }
  if ((kind === 'operator' || kind === 'fleet') && isRole(a) && b !== undefined) {
    const clientId = tag.slice(`${kind}:${a}:${b}:`.length)
    return clientId === '' ? null : { kind, role: a, user: b, clientId }
  }
  return null
}

/**
 * The request payload with `from` set to the caller's tag, in the request's own format, and the `reply` the
 * core will answer on, as decoded (a CBOR map may repeat a key, and then the last one counts: the broker
 * checks this one, not the first); undefined if it does not decode or is not a map (the core, decoding it the
 * same way, answers BAD_REQUEST or drops it); null when it decodes but cannot be encoded again (a CBOR bignum
 * beyond 64 bits, say): the broker refuses it, since the core would read the unstamped `from`. A CBOR id
 * keeps its exact type (docs/protocol.md): the decoder reads 64-bit integers as numbers and floats as they
 * are, and encoding those again would turn 2^40 into a float and 1.0 into an id.
 */
export function stampCaller (payload: Buffer, identity: Identity): { payload: Buffer, reply: unknown } | undefined | null {
  const format = sniffFormat(payload)
  let request: Record<string, unknown>
  try {
    const decoded = decode(payload, format) // within the depth limit, so encoding it again cannot exhaust the stack
    if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded) || decoded instanceof Uint8Array) return undefined
    request = decoded as Record<string, unknown>
  } catch {
    return undefined
  }
  const { onBehalf, ...rest } = request
  const stamped: Record<string, unknown> = { ...rest, from: onBehalf === undefined ? callerTag(identity) : fleetTag(identity, onBehalf) }
  if (format === 'cbor') {
    // the map read whole, as the router reads a request to a module: a key given twice is no value, where the
    // decoder kept the last (review 7: a timeout given twice was taken)
    const head = readEnvelopeHead(payload, false)
    const id = head === null || head.ambiguous === true ? WRONG_TYPE : head.id
    // no id of a valid type: null, which the core answers BAD_REQUEST with id 0 as it would have
    if ('id' in request) stamped.id = id === WRONG_TYPE || id === undefined ? null : id
    // no timeout of a valid type: null, which the core answers BAD_REQUEST with the id
    if ('timeout' in request && head?.timeout === WRONG_TYPE) stamped.timeout = null
  }
  try {
    return { payload: encode(stamped, format), reply: request.reply }
  } catch {
    return null
  }
}

/** who owns a retained message a client publishes, for its limit: a module, an operator user, or anonymous */
export function retainOwner (identity: Identity): string {
  switch (identity.kind) {
    case 'module': return `module ${identity.module}`
    case 'operator': return `operator ${identity.user}`
    case 'anonymous': return 'anonymous clients'
  }
}

/**
 * Whether a client connected as `other` belongs to the same caller as `identity`, so that `identity` may
 * name other's reply topic in a request (a mosquitto_pub whose mosquitto_sub waits for the reply): a module
 * process only itself; an operator any connection of the same user; anonymous clients of one role each other.
 */
export function sameCaller (identity: Identity, other: Identity): boolean {
  switch (identity.kind) {
    case 'module': return other.kind === 'module' && other.clientId === identity.clientId
    case 'operator': return other.kind === 'operator' && other.user === identity.user
    case 'anonymous': return other.kind === 'anonymous' && other.role === identity.role
  }
}

// ── Fleet operators (docs/fleet.md, "Trust") ──
// Only the built-in uplink module (its name is reserved: no other process can hold a `uplink.<n>` credential)
// may say on whose behalf it calls: `onBehalf: "<role>:<user>"`, the fleet operator the upstream's ACL
// vouched for and the role this gateway's manifest gives them. From anyone else, or malformed, the request
// carries `refused:<its own stamp>`, which no method accepts as a caller, so a change is refused
// (NOT_AUTHORISED, naming the sender: refusedOnBehalf): naming someone else can never raise a caller above
// what its own stamp would give.
const UPLINK_MODULE = 'uplink'
const ON_BEHALF = /^(admin|viewer):([A-Za-z][A-Za-z0-9_-]{0,63})$/
const REFUSED = 'refused:'

function fleetTag (identity: Identity, onBehalf: unknown): string {
  const match = typeof onBehalf === 'string' ? ON_BEHALF.exec(onBehalf) : null
  if (match === null || identity.kind !== 'module' || identity.module !== UPLINK_MODULE) return `${REFUSED}${callerTag(identity)}`
  return `fleet:${match[1]}:${match[2]}:${identity.clientId}`
}

/** who really sent a request whose `onBehalf` the broker did not honour; null for any other stamp */
export function refusedOnBehalf (tag: string | undefined): Caller | null {
  return tag?.startsWith(REFUSED) === true ? parseCallerTag(tag.slice(REFUSED.length)) : null
}
