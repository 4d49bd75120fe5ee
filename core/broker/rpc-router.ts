// RPC routing inside the broker. Aedes has no shared subscriptions, so when a module runs N instances,
// every instance subscribes to rpc/<module>/+ and this router names, for each request, the one live
// instance that gets it (round robin); the broker delivers it to that instance alone. The router also
// remembers which requests each instance holds, so that an instance dying mid-call is answered with
// UNAVAILABLE instead of silence (and so that only that instance's reply reaches the caller), and it answers at once for a module the
// manifest does not have (NO_SUCH_MODULE) or one with no live instance (UNAVAILABLE, its state in the details). All of it runs on the broker's hot path:
// synchronous, one small decode per message. It gives a call's place back at its timeout (deadline-wheel.ts), and
// counts the calls to each module (call-stats.ts).
import { performance } from 'node:perf_hooks'
import { encode, sniffFormat, tooDeep } from '../protocol/codec.js'
import type { WireFormat } from '../protocol/codec.js'
import { checkRequest, envelopeFields, errorReply } from '../protocol/envelope.js'
import { WRONG_TYPE, leadingStop, readEnvelopeId } from '../protocol/envelope-head.js'
import type { CorrelationId } from '../protocol/envelope.js'
import type { ErrorCode } from '../errors.js'
import type { Identity } from './access.js'
import { STORE_LIMITS } from './limits.js'
import type { StoreLimits } from './limits.js'
import { topicMemo } from './topic-memo.js'
import { OTHER_CODE, countDuration, countError, errorCodeOf, errorKeyAt, newCallStats } from './call-stats.js'
import type { CallStats } from './call-stats.js'
import { createDeadlineWheel } from './deadline-wheel.js'
import type { Bucket } from './deadline-wheel.js'

interface Route {
  reply: string
  id: CorrelationId
  format: WireFormat
  /** rpc/<module>/<method>, for the message if the instance goes away before replying */
  topic: string
  /** when the request passed (the router's clock), and when it stops waiting for the reply */
  start: number
  expires: number
  stats: CallStats
  /** the calls in flight of the identity that made it (released with the route) */
  tally: Tally
  /** the client id of the instance that holds it, and its place among the deadlines */
  instance: string
  bucket: Bucket<Route> | null
  /** an id-0 BAD_REQUEST ("your request's id could not be read") went to the caller on its account */
  unreadableTold?: true
}

/** a module's ready instances, whose turn is next, and its call counts: one lookup per request finds all three */
interface ModuleCalls {
  clients: string[]
  turn: number
  stats: CallStats
}

/** What the router counted since the gateway started (rpc/core/metrics). */
export interface RouterStats {
  /** per module that has had an instance ready, or a call answered for it */
  modules: Map<string, CallStats>
  /** requests for a module the gateway does not have (answered NO_SUCH_MODULE) */
  noSuchModule: number
  /** replies from a module that answered no call it held (forged, repeated, or later than the router waits): dropped */
  repliesNotOwed: number
}

/** calls in flight of one identity: an operator user, a module (all instances), anonymous clients of a role */
interface Tally {
  calls: number
  /** where it is kept while it has calls, and under which key (anonymous clients' are kept for good) */
  keptIn: Map<string, Tally> | null
  key: string
}

/** the requests one instance holds: reply topic → id → route (no key is built per message) */
type Held = Map<string, Map<CorrelationId, Route>>

/** a request the broker must not deliver: its publisher is disconnected (access.ts has the other refusals) */
export interface RefusedRequest { refused: string }

export interface RouterDeps {
  /** state of a module by name: undefined if the gateway has no such module */
  moduleStatus (module: string): string | undefined
  /** publishes a reply on behalf of the core */
  send (topic: string, payload: Buffer): void
  /**
   * Whether `caller` may name `reply` (under reply/) as its reply topic: its own, or one of another
   * connection of the same identity (publishing.ts). Default: its own only.
   */
  answersTo? (caller: Identity, reply: string): boolean
  limits?: Partial<StoreLimits>
  /** a monotonic clock in ms (default performance.now: durations below a millisecond are measured) */
  now? (): number
}

export interface RpcRouter {
  /** an instance said ready: it may now receive requests */
  online (clientId: string, module: string): void
  /** an instance is gone (exit, disconnect, hang): its calls in flight get UNAVAILABLE */
  offline (clientId: string, module: string, why: string): void
  /** any client (caller) disconnected: the calls it waits for are forgotten, so no later holder of its client id gets their replies */
  callerGone (clientId: string): void
  /**
   * A request to a module (rpc/<module>/<method>, not core) was published by `caller`: the client id of the
   * instance that gets it, null when no one does (the router answered it, or there is no instance to give it
   * to), or a refusal when it names a reply topic that is not the caller's.
   */
  recipient (topic: string, payload: Buffer, caller: Identity): string | null | RefusedRequest
  /**
   * A module published a reply: true when it answers a request that this very instance holds (which is
   * then released). Any other reply (forged, duplicated, or later than the caller waits) goes nowhere.
   */
  replied (identity: Identity, topic: string, payload: Buffer): boolean
  /** the calls an instance holds now (management's status reports them) */
  pendingOf (clientId: string): number
  /** the calls held by every instance together */
  readonly pending: number
  /** the counts themselves (not copies): read them, do not keep them */
  stats (): RouterStats
  /** calls answered TOO_MANY_CALLS so far, by the limit they met */
  readonly refused: { perCaller: number, perIdentity: number, gateway: number }
  stop (): void
}

const DEFAULT_HOLD_MS = 60_000
/**
 * How late past its timeout a held call may be released (and counted TIMEOUT): a tenth of a second is well
 * under any timeout a caller names in practice, and the wheel wakes at most ten times a second for it.
 */
export const DEADLINE_GRANULE_MS = 100
/** distinct request topics whose module name is remembered */
const REMEMBERED_TOPICS = 1024

/** who a per-identity limit counts, as a refusal names it */
function identityName (caller: Identity): string {
  switch (caller.kind) {
    case 'operator': return `operator ${caller.user}`
    case 'module': return `module ${caller.module}`
    case 'anonymous': return `anonymous ${caller.role} clients`
  }
}

/** A caller's own reply topic is reply/<its client id>; compared without building the string. */
export function isOwnReplyTopic (caller: Identity, reply: string): boolean {
  return reply.length === 6 + caller.clientId.length && reply.endsWith(caller.clientId) && reply.startsWith('reply/')
}

interface RoutingFields {
  id: CorrelationId
  reply: string
  timeout?: number | undefined
  /** why the router answers it BAD_REQUEST itself: its arguments nest deeper than any module decodes, or its
   * id or timeout is missing, of a wrong type or given twice (maxDepth: the details of the first) */
  bad?: { message: string, details?: { maxDepth: number } }
}

/**
 * What routing needs of a request: its id, reply topic and timeout, read from the envelope's bytes, every
 * top-level entry (envelope-head.ts), and whether it can be read only one way. A bad envelope that still
 * names a reply topic is answered BAD_REQUEST here, with the id read or 0, and goes no further: its
 * receiver's decoder might read another id than the one the broker would let its reply through with (a key
 * given twice, of which decoders keep the last; a JSON id past 2^53, which Python reads exactly), and the
 * caller would wait for an answer dropped on the way. One with no reply topic the broker can read is
 * refused: a module's decoder might read one all the same (a CBOR map behind tag 55799, JSON that Python's
 * json takes and JSON.parse does not).
 */
function routingFields (payload: Buffer, format: WireFormat): RoutingFields | RefusedRequest {
  const fields = envelopeFields(payload, format, true)
  // too deep for any module to decode: answered here as the module would answer it, when its reply topic came before
  if (fields?.tooDeep === true && typeof fields.reply === 'string') {
    const checked = checkRequest({ id: fields.id, reply: fields.reply })
    if (checked.ok || checked.reply !== null) {
      const refusal = tooDeep(format)
      return { id: checked.ok ? checked.request.id : checked.id ?? 0, reply: fields.reply, bad: { message: refusal.message, details: refusal.details as { maxDepth: number } } }
    }
  }
  // what the callee's decoder reads must be what was checked here: the reply topic above all (issue 10 review 5)
  if (fields?.ambiguous === true) return { refused: 'the request is not a CBOR map keyed by text that ends where the payload does: its receiver could read another reply topic than the one checked' }
  if (fields?.reply === WRONG_TYPE && format === 'cbor') return { refused: 'the request\'s "reply" is not text, or is given twice' }
  const checked = checkRequest(fields)
  if (checked.ok) return checked.request
  if (checked.reply === null) return { refused: `the request has no reply topic the broker can read (${checked.message}): its receiver might read one it did not check` }
  return { id: checked.id ?? 0, reply: checked.reply, bad: { message: checked.message } }
}

export function createRpcRouter (deps: RouterDeps): RpcRouter {
  const now = deps.now ?? (() => performance.now())
  const limits = { ...STORE_LIMITS, ...deps.limits }
  const answersTo = deps.answersTo ?? isOwnReplyTopic
  let pending = 0 // routes held by every instance together
  const modules = new Map<string, ModuleCalls>() // module → its ready client ids, in order, and counts
  const counted = { noSuchModule: 0, repliesNotOwed: 0 }
  const callsOf = (module: string): ModuleCalls => {
    let calls = modules.get(module)
    if (calls === undefined) modules.set(module, calls = { clients: [], turn: 0, stats: newCallStats() })
    return calls
  }
  const held = new Map<string, Held>() // client id → the requests it holds
  const moduleOf = topicMemo(REMEMBERED_TOPICS, topic => topic.slice(4, topic.indexOf('/', 4))) // rpc/<module>/…
  // tallies of identities with calls in flight (forgotten at zero, so at most pendingCalls of them); keyed by
  // strings the identity already holds: one lookup per request, no key built
  const byUser = new Map<string, Tally>()
  const byModule = new Map<string, Tally>()
  const anonymous: Record<string, Tally> = { admin: { calls: 0, keptIn: null, key: 'admin' }, viewer: { calls: 0, keptIn: null, key: 'viewer' } }
  const refused = { perCaller: 0, perIdentity: 0, gateway: 0 }
  const tallyOf = (caller: Identity): Tally => {
    if (caller.kind === 'anonymous') return anonymous[caller.role] as Tally
    const keptIn = caller.kind === 'operator' ? byUser : byModule
    const key = caller.kind === 'operator' ? caller.user : caller.module
    let tally = keptIn.get(key)
    if (tally === undefined) keptIn.set(key, tally = { calls: 0, keptIn, key })
    return tally
  }
  /** a route is no longer held: its caller's tally goes down, and is forgotten at zero */
  const release = (route: Route): void => {
    if (route.bucket !== null) deadlines.remove(route, route.bucket)
    pending--
    if (--route.tally.calls === 0) route.tally.keptIn?.delete(route.tally.key)
  }

  const notOwed = (): false => {
    counted.repliesNotOwed++
    return false
  }

  const answer = (route: { reply: string, id: CorrelationId, format: WireFormat }, code: ErrorCode, message: string, details?: unknown): void => {
    deps.send(route.reply, encode(errorReply(route.id, code, message, details), route.format))
  }

  const choose = (calls: ModuleCalls | undefined): string | undefined => {
    if (calls === undefined || calls.clients.length === 0) return undefined
    const next = calls.turn % calls.clients.length
    calls.turn = next + 1
    return calls.clients[next]
  }

  // the caller has given up on a call past its timeout: its place is given back then, not when a reply
  // comes (which is not owed any more); an empty map of a reply topic stays until its caller leaves (callerGone)
  const deadlines = createDeadlineWheel<Route>({
    granuleMs: DEADLINE_GRANULE_MS,
    now,
    expire: route => {
      // every other way out of `held` goes through release(), which takes the route off the wheel
      const routesOf = held.get(route.instance)
      const byId = routesOf?.get(route.reply)
      byId?.delete(route.id)
      if (byId?.size === 0) routesOf?.delete(route.reply)
      release(route)
      countError(route.stats, 'TIMEOUT')
    },
  })

  return {
    online (clientId, module) {
      const calls = callsOf(module)
      if (!calls.clients.includes(clientId)) calls.clients.push(clientId)
    },

    offline (clientId, module, why) {
      const calls = modules.get(module)
      if (calls !== undefined) calls.clients = calls.clients.filter(c => c !== clientId)
      const routesOf = held.get(clientId)
      held.delete(clientId)
      if (routesOf === undefined) return
      for (const byId of routesOf.values()) {
        for (const route of byId.values()) {
          release(route)
          countError(route.stats, 'UNAVAILABLE')
          const method = route.topic.slice(route.topic.indexOf('/', 4) + 1)
          answer(route, 'UNAVAILABLE', `${module}.${method}: instance ${clientId} stopped before replying (${why})`, { module, instance: clientId, reason: why })
        }
      }
    },

    callerGone (clientId) {
      // its replies would reach whoever connects with its client id next (a clean session's id is free once
      // it is over): the calls it waits for are forgotten, and their replies go nowhere (issue 10 review)
      const reply = `reply/${clientId}`
      for (const routesOf of held.values()) {
        const byId = routesOf.get(reply)
        if (byId === undefined) continue
        for (const route of byId.values()) release(route)
        routesOf.delete(reply)
      }
    },

    recipient (topic, payload, caller) {
      const module = moduleOf(topic)
      const format = sniffFormat(payload)
      const request = routingFields(payload, format)
      const calls = modules.get(module)
      if ('refused' in request) return request
      // replies go to the caller alone: naming another's reply topic would forge replies to it (issue 10 A4)
      if (!isOwnReplyTopic(caller, request.reply) && !answersTo(caller, request.reply)) {
        return { refused: `a request may name only its caller's own reply topic (reply/${caller.clientId}), not ${request.reply.slice(0, 64)}` }
      }
      // its length is bounded with it: reply/<a client id of at most 128 bytes>
      const route = { reply: request.reply, id: request.id, format }
      if (request.bad !== undefined) {
        // the words a module's SDK would answer with (serve.ts)
        answer(route, 'BAD_REQUEST', request.bad.message, request.bad.details)
        return null
      }
      const target = choose(calls)
      if (calls === undefined || target === undefined) {
        // the module's state only for the answer: it is not cheap to describe, and most requests find an instance
        const status = deps.moduleStatus(module)
        const call = `${module}.${topic.slice(5 + module.length)}`
        if (status === undefined) {
          counted.noSuchModule++ // not by name: any caller can make up names
          answer(route, 'NO_SUCH_MODULE', `${call}: the gateway has no module named "${module}"`)
        } else {
          countError(callsOf(module).stats, 'UNAVAILABLE')
          // running with no instance on the bus: one lost its connection a moment ago and the supervisor has not yet seen why
          const why = status === 'running' ? 'it is running, but none of its instances is connected to the broker now' : `it is ${status}`
          answer(route, 'UNAVAILABLE', `${call}: module ${module} has no live instance (${why})`, { module, state: status })
        }
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
      const tally = tallyOf(caller)
      const replaced = byId.get(request.id) // the same id again: the call is held once, for its latest request
      if (replaced === undefined) {
        const which = byId.size >= limits.pendingCallsPerCaller
          ? 'perCaller'
          : tally.calls >= limits.pendingCallsPerIdentity ? 'perIdentity' : pending >= limits.pendingCalls ? 'gateway' : null
        if (which !== null) {
          if (tally.calls === 0) tally.keptIn?.delete(tally.key)
          refused[which]++
          countError(calls.stats, 'TOO_MANY_CALLS')
          const [limit, why] = which === 'perCaller'
            ? [limits.pendingCallsPerCaller, `${limits.pendingCallsPerCaller} calls from this caller to ${target} are in flight`]
            : which === 'perIdentity'
              ? [limits.pendingCallsPerIdentity, `${limits.pendingCallsPerIdentity} calls from ${identityName(caller)} are in flight, all its connections together`]
              : [limits.pendingCalls, `${limits.pendingCalls} calls are in flight through the gateway`]
          answer(route, 'TOO_MANY_CALLS', `${module}.${topic.slice(topic.indexOf('/', 4) + 1)} refused: ${why}`, { limit: which, max: limit })
          return null
        }
        pending++
        tally.calls++
      } else if (replaced.tally !== tally) {
        release(replaced)
        pending++
        tally.calls++
      } else if (replaced.bucket !== null) {
        deadlines.remove(replaced, replaced.bucket)
      }
      const hold = Math.min(request.timeout ?? DEFAULT_HOLD_MS, limits.maxCallTimeoutMs)
      const start = now()
      calls.stats.calls++
      const holding: Route = { reply: request.reply, id: request.id, format, topic, start, expires: start + hold, stats: calls.stats, tally, instance: target, bucket: null }
      holding.bucket = deadlines.add(holding, holding.expires)
      byId.set(request.id, holding)
      return target
    },

    replied (identity, topic, payload) {
      const routesOf = held.get(identity.clientId)
      if (routesOf === undefined || routesOf.size === 0) return notOwed()
      const byId = routesOf.get(topic)
      if (byId === undefined) return notOwed()
      const format = sniffFormat(payload)
      // the id as the request's was read: from the bytes, with its CBOR type, the whole map read and checked
      // (envelope-head.ts): a second id, a key that is not text, bytes after the map make it WRONG_TYPE,
      // since a receiver decoding the map could take another id for the reply's
      const id = format === 'cbor' ? readEnvelopeId(payload, false) : envelopeFields(payload, format)?.id
      // the first entry that is not a number or text: `error` there is an error reply
      const stop = format === 'cbor' ? leadingStop() : -1
      const route = typeof id === 'number' || typeof id === 'bigint' || typeof id === 'string' ? byId.get(id) : undefined
      if (route === undefined) {
        // "I could not read your request's id": the caller learns of it, and nothing is released (the
        // callee does not know which request it answers); once per request held, so that a module cannot
        // flood a caller that logs each (review 8)
        if (id !== 0 || errorCodeOf(payload, format) !== 'BAD_REQUEST') return notOwed()
        for (const unread of byId.values()) {
          if (unread.unreadableTold === true) continue
          unread.unreadableTold = true
          return true
        }
        return notOwed()
      }
      byId.delete(route.id)
      release(route)
      const t = now()
      if (route.expires < t) {
        // past its timeout, before the wheel's next granule released it: it is the timeout's, as it would be then
        countError(route.stats, 'TIMEOUT')
        return notOwed()
      }
      countDuration(route.stats, t - route.start)
      // an error reply is decoded for its code; a success costs the look at one key (JSON: decoded again)
      const code = format !== 'cbor' ? errorCodeOf(payload, format) : errorKeyAt(payload, stop) ? errorCodeOf(payload, format) ?? OTHER_CODE : undefined
      if (code !== undefined) countError(route.stats, code)
      return true
    },

    pendingOf (clientId) {
      let count = 0
      for (const byId of held.get(clientId)?.values() ?? []) count += byId.size
      return count
    },

    get pending () {
      return pending
    },

    stats: () => ({ modules: new Map([...modules].map(([name, calls]) => [name, calls.stats])), ...counted }),
    refused,

    stop () {
      deadlines.stop()
    },
  }
}
