// RPC routing inside the broker. Aedes has no shared subscriptions, so when a module runs N instances,
// every instance subscribes to rpc/<module>/+ and this router names, for each request, the one live
// instance that gets it (round robin); the broker delivers it to that instance alone. The router also
// remembers which requests each instance holds, so that an instance dying mid-call is answered with
// UNAVAILABLE instead of silence (and so that only that instance's reply reaches the caller), and it answers at once for a module the
// manifest does not have (NO_SUCH_MODULE) or one with no live instance (UNAVAILABLE, its state in the details). All of it runs on the broker's hot path:
// synchronous, one small decode per message.
import { decode, encode, sniffFormat } from '../protocol/codec.js'
import type { WireFormat } from '../protocol/codec.js'
import { checkRequest, errorReply, isCorrelationId } from '../protocol/envelope.js'
import { readEnvelopeHead, readEnvelopeId } from '../protocol/envelope-head.js'
import type { CorrelationId } from '../protocol/envelope.js'
import type { ErrorCode } from '../errors.js'
import type { Identity } from './access.js'
import { topicMemo } from './topic-memo.js'

interface Route {
  reply: string
  id: CorrelationId
  format: WireFormat
  /** rpc/<module>/<method>, for the message if the instance goes away before replying */
  topic: string
  expires: number
}

/** the requests one instance holds: reply topic → id → route (no key is built per message) */
type Held = Map<string, Map<CorrelationId, Route>>

export interface RouterDeps {
  /** state of a module by name: undefined if the gateway has no such module */
  moduleStatus (module: string): string | undefined
  /** publishes a reply on behalf of the core */
  send (topic: string, payload: Buffer): void
  now? (): number
}

export interface RpcRouter {
  /** an instance said ready: it may now receive requests */
  online (clientId: string, module: string): void
  /** an instance is gone (exit, disconnect, hang): its calls in flight get UNAVAILABLE */
  offline (clientId: string, module: string, why: string): void
  /**
   * A request to a module (rpc/<module>/<method>, not core) was published: the client id of the instance
   * that gets it, or null when no one does (the router answered it, or there is no instance to give it to).
   */
  recipient (topic: string, payload: Buffer): string | null
  /**
   * A module published a reply: true when it answers a request that this very instance holds (which is
   * then released). Any other reply (forged, duplicated, or later than the caller waits) goes nowhere.
   */
  replied (identity: Identity, topic: string, payload: Buffer): boolean
  stop (): void
}

const DEFAULT_HOLD_MS = 60_000
/** distinct request topics whose module name is remembered */
const REMEMBERED_TOPICS = 1024

/**
 * What routing needs of a request: from the envelope's head when it comes first (as the SDK writes it).
 * A bad envelope that still names a reply topic is routed too: the callee answers it BAD_REQUEST, with the
 * id it could read or 0 (serve.ts), and that reply must be let through. Null: nothing to answer on.
 */
function routingFields (payload: Buffer, format: WireFormat): { id: CorrelationId, reply: string, timeout?: number | undefined } | null {
  const head = format === 'cbor' ? readEnvelopeHead(payload) : null
  if (head !== null && isCorrelationId(head.id) && typeof head.reply === 'string' && head.reply.startsWith('reply/')) {
    return head as { id: CorrelationId, reply: string, timeout?: number }
  }
  let checked
  try {
    checked = checkRequest(decode(payload, format))
  } catch {
    return null
  }
  if (checked.ok) return { id: checked.request.id, reply: checked.request.reply, timeout: checked.request.timeout }
  return checked.reply === null ? null : { id: checked.id ?? 0, reply: checked.reply, timeout: undefined }
}

export function createRpcRouter (deps: RouterDeps): RpcRouter {
  const now = deps.now ?? Date.now
  const live = new Map<string, string[]>() // module → ready client ids, in order
  const turn = new Map<string, number>()
  const held = new Map<string, Held>() // client id → the requests it holds
  const moduleOf = topicMemo(REMEMBERED_TOPICS, topic => topic.slice(4, topic.indexOf('/', 4))) // rpc/<module>/…

  const answer = (route: { reply: string, id: CorrelationId, format: WireFormat }, code: ErrorCode, message: string, details?: unknown): void => {
    deps.send(route.reply, encode(errorReply(route.id, code, message, details), route.format))
  }

  const choose = (module: string): string | undefined => {
    const clients = live.get(module)
    if (clients === undefined || clients.length === 0) return undefined
    const next = (turn.get(module) ?? 0) % clients.length
    turn.set(module, next + 1)
    return clients[next]
  }

  const prune = setInterval(() => {
    const t = now()
    for (const routesOf of held.values()) {
      for (const [reply, byId] of routesOf) {
        for (const [id, route] of byId) if (route.expires < t) byId.delete(id)
        if (byId.size === 0) routesOf.delete(reply)
      }
    }
  }, 10_000)
  prune.unref()

  return {
    online (clientId, module) {
      const clients = live.get(module) ?? []
      if (!clients.includes(clientId)) clients.push(clientId)
      live.set(module, clients)
    },

    offline (clientId, module, why) {
      const clients = live.get(module)
      if (clients !== undefined) live.set(module, clients.filter(c => c !== clientId))
      const routesOf = held.get(clientId)
      held.delete(clientId)
      if (routesOf === undefined) return
      for (const byId of routesOf.values()) {
        for (const route of byId.values()) {
          const method = route.topic.slice(route.topic.indexOf('/', 4) + 1)
          answer(route, 'UNAVAILABLE', `${module}.${method}: instance ${clientId} stopped before replying (${why})`, { module, instance: clientId, reason: why })
        }
      }
    },

    recipient (topic, payload) {
      const module = moduleOf(topic)
      const format = sniffFormat(payload)
      const request = routingFields(payload, format)
      // a request with nothing to answer on still goes to one instance, which logs it
      if (request === null) return choose(module) ?? null
      const target = choose(module)
      if (target === undefined) {
        // the module's state only for the answer: it is not cheap to describe, and most requests find an instance
        const status = deps.moduleStatus(module)
        const route = { reply: request.reply, id: request.id, format }
        const call = `${module}.${topic.slice(5 + module.length)}`
        if (status === undefined) answer(route, 'NO_SUCH_MODULE', `${call}: the gateway has no module named "${module}"`)
        else answer(route, 'UNAVAILABLE', `${call}: module ${module} has no live instance (it is ${status})`, { module, state: status })
        return null
      }
      let routesOf = held.get(target)
      if (routesOf === undefined) {
        routesOf = new Map()
        held.set(target, routesOf)
      }
      let byId = routesOf.get(request.reply)
      if (byId === undefined) {
        byId = new Map()
        routesOf.set(request.reply, byId)
      }
      byId.set(request.id, { reply: request.reply, id: request.id, format, topic, expires: now() + (request.timeout ?? DEFAULT_HOLD_MS) })
      return target
    },

    replied (identity, topic, payload) {
      const routesOf = held.get(identity.clientId)
      if (routesOf === undefined || routesOf.size === 0) return false
      const format = sniffFormat(payload)
      let id = format === 'cbor' ? readEnvelopeId(payload) : undefined
      if (id === undefined) {
        try {
          id = (decode(payload, format) as { id?: CorrelationId } | null)?.id
        } catch {
          return false
        }
      }
      const byId = routesOf.get(topic)
      const route = id === undefined ? undefined : byId?.get(id)
      if (byId === undefined || route === undefined) return false
      byId.delete(route.id)
      return route.expires >= now()
    },

    stop () {
      clearInterval(prune)
    },
  }
}
