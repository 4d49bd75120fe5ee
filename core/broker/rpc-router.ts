// RPC routing inside the broker. Aedes has no shared subscriptions, so when a module runs N instances,
// every instance subscribes to rpc/<module>/+ and this router, from the broker's forward hook, lets
// exactly one live instance have each request (round robin). It also remembers which requests each
// instance holds, so that an instance dying mid-call is answered with UNAVAILABLE instead of silence,
// and it answers at once for a module that does not exist (NO_SUCH_MODULE) or has no live instance
// (UNAVAILABLE). All of it runs on the broker's hot path: synchronous, one small decode per message.
import { decode, encode, sniffFormat } from '../protocol/codec.js'
import type { WireFormat } from '../protocol/codec.js'
import { checkRequest, errorReply } from '../protocol/envelope.js'
import type { CorrelationId } from '../protocol/envelope.js'
import { CORE_MODULE } from '../protocol/topics.js'
import type { ErrorCode } from '../errors.js'
import type { Identity } from './access.js'

interface Route {
  reply: string
  id: CorrelationId
  format: WireFormat
  /** the chosen instance's client id, once chosen */
  target: string | undefined
  method: string
  expires: number
}

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
  /** authorizePublish side, after the publish is allowed */
  published (identity: Identity, topic: string, payload: Buffer): void
  /** authorizeForward side: may this client have this request? */
  forward (identity: Identity | undefined, topic: string, payload: Buffer): boolean
  stop (): void
}

const DEFAULT_HOLD_MS = 60_000

export function createRpcRouter (deps: RouterDeps): RpcRouter {
  const now = deps.now ?? Date.now
  const live = new Map<string, string[]>() // module → ready client ids, in order
  const turn = new Map<string, number>()
  const routes = new WeakMap<Buffer, Route>() // by request payload: Aedes forwards the same buffer to every subscriber
  const held = new Map<string, Map<string, Route>>() // client id → reply+id → route

  const answer = (route: { reply: string, id: CorrelationId, format: WireFormat }, code: ErrorCode, message: string): void => {
    deps.send(route.reply, encode(errorReply(route.id, code, message), route.format))
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
      for (const [key, route] of routesOf) if (route.expires < t) routesOf.delete(key)
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
      for (const route of routesOf.values()) {
        answer(route, 'UNAVAILABLE', `${module}.${route.method}: instance ${clientId} stopped before replying (${why})`)
      }
    },

    published (identity, topic, payload) {
      if (topic.startsWith('rpc/')) {
        const slash = topic.indexOf('/', 4)
        const module = topic.slice(4, slash)
        if (module === CORE_MODULE || slash === -1) return
        const format = sniffFormat(payload)
        let checked
        try {
          checked = checkRequest(decode(payload, format))
        } catch {
          return // the callee logs undecodable requests
        }
        if (!checked.ok) return // the callee answers BAD_REQUEST
        const { request } = checked
        const method = topic.slice(slash + 1)
        const status = deps.moduleStatus(module)
        if (status === undefined) {
          answer({ reply: request.reply, id: request.id, format }, 'NO_SUCH_MODULE', `no module named "${module}" on this gateway`)
          return
        }
        if ((live.get(module)?.length ?? 0) === 0) {
          answer({ reply: request.reply, id: request.id, format }, 'UNAVAILABLE', `module ${module} has no live instance (it is ${status})`)
          return
        }
        routes.set(payload, { reply: request.reply, id: request.id, format, target: undefined, method, expires: now() + (request.timeout ?? DEFAULT_HOLD_MS) })
        return
      }
      if (identity.kind === 'module' && topic.startsWith('reply/')) {
        const routesOf = held.get(identity.clientId)
        if (routesOf === undefined || routesOf.size === 0) return
        let id: unknown
        try {
          id = (decode(payload, sniffFormat(payload)) as { id?: unknown } | null)?.id
        } catch {
          return
        }
        routesOf.delete(`${topic} ${String(id)}`)
      }
    },

    forward (identity, topic, payload) {
      if (identity?.kind !== 'module' || !topic.startsWith('rpc/')) return true
      const route = routes.get(payload)
      if (route === undefined) return true // not a routed request (e.g. undecodable): the callee reports it
      route.target ??= choose(identity.module)
      if (route.target !== identity.clientId) return false
      let routesOf = held.get(identity.clientId)
      if (routesOf === undefined) {
        routesOf = new Map()
        held.set(identity.clientId, routesOf)
      }
      routesOf.set(`${route.reply} ${String(route.id)}`, route)
      return true
    },

    stop () {
      clearInterval(prune)
    },
  }
}
