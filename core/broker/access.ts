// Who may do what on the bus. Pure functions over an Identity: the broker adapter (broker.ts) is the only
// place that turns Aedes's callbacks into calls of these, so the rules are testable without a broker.
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
