// Who may do what on the bus. Pure functions over an Identity: the broker adapter (broker.ts) is the only
// place that turns Aedes's callbacks into calls of these, so the rules are testable without a broker.
import { decode, encode, sniffFormat } from '../protocol/codec.js'
import { CORE_MODULE, matchTopic, parseTopic } from '../protocol/topics.js'

export type Role = 'admin' | 'viewer'

export type Identity =
  | { kind: 'module', clientId: string, module: string, instance: number, calls: ReadonlySet<string> | '*' }
  | { kind: 'operator', clientId: string, user: string, role: Role }
  | { kind: 'anonymous', clientId: string, role: Role }

/** Core methods that only read; a viewer may call these and nothing else. */
export const READ_ONLY_CORE_METHODS = new Set(['list', 'status', 'info', 'logs', 'metrics'])

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
      case 'presence': return parsed.owner === identity.module && parsed.name === String(identity.instance)
      case 'reply': return true
      case 'rpc':
        if (parsed.owner === CORE_MODULE) return identity.calls !== '*' && identity.calls.has(CORE_MODULE)
        return identity.calls === '*' || identity.calls.has(parsed.owner)
      case 'state': return false
    }
  }
  const role = roleOf(identity)
  if (role === 'admin') return parsed === null || (parsed.kind !== 'state' && parsed.kind !== 'presence')
  // viewers: read-only core calls, and nothing that changes anything
  return parsed !== null && parsed.kind === 'rpc' && parsed.owner === CORE_MODULE && READ_ONLY_CORE_METHODS.has(parsed.name)
}

export function canSubscribe (identity: Identity, filter: string): boolean {
  // Replies are private to their caller: only the exact own reply topic may be subscribed.
  if (filter.startsWith('reply/')) return filter === `reply/${identity.clientId}`
  if (matchTopic(filter, 'reply/x') || filter === '#' || filter.startsWith('+/')) {
    // a wildcard that reaches reply/ would read other callers' replies
    return false
  }
  if (identity.kind === 'module') {
    if (filter.startsWith('hooks/') || filter.startsWith('state/') || filter.startsWith('presence/')) return true
    // a module serves only its own RPC topics
    return filter === `rpc/${identity.module}/+` || (filter.startsWith(`rpc/${identity.module}/`) && !filter.includes('#'))
  }
  // operators watch everything except other callers' replies and RPC requests in flight
  return !filter.startsWith('rpc/')
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

/** The request payload with `from` set to the caller's tag, in the request's own format; undefined if it is not a map. */
export function stampCaller (payload: Buffer, identity: Identity): Buffer | undefined {
  const format = sniffFormat(payload)
  let request: unknown
  try {
    request = decode(payload, format)
  } catch {
    return undefined // the core drops undecodable requests and says so in its log
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request) || request instanceof Uint8Array) return undefined
  const { onBehalf, ...rest } = request as Record<string, unknown>
  return encode({ ...rest, from: onBehalf === undefined ? callerTag(identity) : fleetTag(identity, onBehalf) }, format)
}

// ── Fleet operators (docs/fleet.md, "Trust") ──
// Only the built-in uplink module (its name is reserved: no other process can hold a `uplink.<n>` credential)
// may say on whose behalf it calls: `onBehalf: "<role>:<user>"`, the fleet operator the upstream's ACL
// vouched for and the role this gateway's manifest gives them. From anyone else, or malformed, the request
// carries a tag no method accepts as a caller, so a change is refused (NOT_AUTHORISED): naming someone else
// can never raise a caller above what its own stamp would give.
const UPLINK_MODULE = 'uplink'
const ON_BEHALF = /^(admin|viewer):([A-Za-z][A-Za-z0-9_-]{0,63})$/

function fleetTag (identity: Identity, onBehalf: unknown): string {
  const match = typeof onBehalf === 'string' ? ON_BEHALF.exec(onBehalf) : null
  if (match === null || identity.kind !== 'module' || identity.module !== UPLINK_MODULE) return `refused:${callerTag(identity)}`
  return `fleet:${match[1]}:${match[2]}:${identity.clientId}`
}
