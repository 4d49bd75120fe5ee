// Requests coming down from the upstream: `<prefix>/rpc/<module>/<method>/<operator>`, where the operator
// level is what the upstream's ACL vouches for (only that operator may publish there: docs/fleet.md). Checks
// run cheapest first: size, rate, topic, decoding, envelope, role, exposure, requests in flight (all, and the
// operator's own), the upstream's backlog. The rate is kept per operator of the manifest, and in one bucket for
// everyone else (operators without a role here, topics that name none), so an upstream account with no role
// cannot spend the fleet admins' requests. What fails before a reply topic is known is dropped and counted;
// the rest is answered with an error.
// A request's slot is held until its reply has been handed to the socket and the backlog is back under its
// bound (`reply`'s `sent`): the slots bound what the replies hold, not only how many calls run. A reply that
// would pass `maxReplyBytes`, or find the backlog over its bound, goes as a short error in its place.
import type { Role } from '../../core/broker/access.js'
import type { ErrorCode } from '../../core/errors.js'
import { decode, encode, sniffFormat } from '../../core/protocol/codec.js'
import { correlationId, errorReply, toErrorBody } from '../../core/protocol/envelope.js'
import type { CorrelationId } from '../../core/protocol/envelope.js'
import { CORE_MODULE, isMethodName, isModuleName } from '../../core/protocol/topics.js'
import type { UplinkConfig } from '../../core/manifest/uplink-schema.js'
import { SEGMENT } from './topics.js'
import type { FleetTopics } from './topics.js'

export interface DownlinkCounters {
  received: number
  answered: number
  denied: number
  dropped: { tooLarge: number, rate: number, badTopic: number, unvouched: number, malformed: number, busy: number, operatorBusy: number, backlog: number, replyBytes: number }
  /** answers replaced by an error: larger than maxReplyBytes (TOO_LARGE), or the backlog over its bound when ready (UNAVAILABLE) */
  replaced: { tooLarge: number, backlog: number }
}

export interface DownlinkOptions {
  topics: FleetTopics
  limits: UplinkConfig['limits']
  operators: UplinkConfig['operators']
  expose: UplinkConfig['expose']
  call: (module: string, method: string, args: unknown, timeout: number, onBehalf: string) => Promise<unknown>
  /** hands a reply to the upstream; `sent` once it is in the socket and the backlog is under its bound (or the connection went) */
  reply: (topic: string, payload: Buffer, sent: () => void) => void
  /** bytes waiting unsent to the upstream now */
  backlogBytes: () => number
  warn: (text: string) => void
  now?: () => number
}

const ROLE_RANK: Record<Role, number> = { viewer: 0, admin: 1 }
/** the bucket of every request whose operator has no role here; no operator is named so (not a valid user name) */
const OTHERS = ' others'
const DEFAULT_TIMEOUT_MS = 10_000

export function createDownlink (o: DownlinkOptions): { onMessage: (topic: string, payload: Buffer) => void, counters: DownlinkCounters } {
  const now = o.now ?? (() => performance.now())
  const roles = new Map(o.operators.map(op => [op.user, op.role]))
  const counters: DownlinkCounters = {
    received: 0,
    answered: 0,
    denied: 0,
    dropped: { tooLarge: 0, rate: 0, badTopic: 0, unvouched: 0, malformed: 0, busy: 0, operatorBusy: 0, backlog: 0, replyBytes: 0 },
    replaced: { tooLarge: 0, backlog: 0 },
  }
  const rpcPrefix = `${o.topics.prefix}/rpc/`
  // token buckets: one per operator with a role here (bounded by the manifest), and `others` for the rest
  const buckets = new Map<string, { tokens: number, refilled: number }>()
  for (const user of [...roles.keys(), OTHERS]) buckets.set(user, { tokens: o.limits.burst, refilled: now() })
  const spend = (user: string): boolean => {
    const bucket = buckets.get(roles.has(user) ? user : OTHERS) as { tokens: number, refilled: number }
    const t = now()
    bucket.tokens = Math.min(o.limits.burst, bucket.tokens + ((t - bucket.refilled) / 1000) * o.limits.requestsPerSecond)
    bucket.refilled = t
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
  // reply bytes, per operator with a role here: a reply is charged once made (it may run the bucket into
  // debt), and the operator's requests are refused while it is in debt. The uplink decodes a reply and encodes
  // it again, so what it is asked to carry per second, not only what waits unsent, is what its memory holds
  // until the garbage collector catches up (a viewer asking 20 logs of 2 MiB a second outran it)
  const byteBuckets = new Map<string, { tokens: number, refilled: number }>()
  const replyBytesLeft = (user: string): number => {
    let bucket = byteBuckets.get(user)
    if (bucket === undefined) {
      bucket = { tokens: o.limits.maxReplyBytes, refilled: now() }
      byteBuckets.set(user, bucket)
    }
    const t = now()
    bucket.tokens = Math.min(o.limits.maxReplyBytes, bucket.tokens + ((t - bucket.refilled) / 1000) * o.limits.replyBytesPerSecond)
    bucket.refilled = t
    return bucket.tokens
  }
  let inFlight = 0
  // per operator with a role here (bounded by the manifest); an operator never holds more than the whole
  const perOperator = Math.min(o.limits.maxInFlightPerOperator, o.limits.maxInFlight)
  const inFlightOf = new Map<string, number>()
  // one warning per kind of drop and minute: a flood must not become a log flood
  const warned = new Map<string, number>()
  const warnOnce = (kind: string, text: string): void => {
    const last = warned.get(kind) ?? -Infinity
    if (now() - last < 60_000) return
    warned.set(kind, now())
    o.warn(text)
  }
  const drop = (kind: keyof DownlinkCounters['dropped'], text: string): void => {
    counters.dropped[kind]++
    warnOnce(kind, `dropped a request from the upstream: ${text} (${counters.dropped[kind]} so far)`)
  }

  const minimumRole = (module: string, method: string): Role | 'not-exposed' => {
    // core checks the role itself, from the broker's stamp, and audits a refusal with the fleet identity
    if (module === CORE_MODULE) return 'viewer'
    for (const e of o.expose) {
      if (e.module === module && (e.methods === '*' || e.methods.includes(method))) return e.role
    }
    return 'not-exposed'
  }

  const onMessage = (topic: string, payload: Buffer): void => {
    counters.received++
    if (payload.length > o.limits.maxRequestBytes) return drop('tooLarge', `${payload.length} bytes on ${topic} (limit ${o.limits.maxRequestBytes})`)
    // the operator level, read before anything is spent: its bucket pays (a topic that names no operator of the manifest, `others`)
    const levels = topic.startsWith(rpcPrefix) ? topic.slice(rpcPrefix.length).split('/') : []
    if (!spend(levels.length === 3 ? levels[2] as string : OTHERS)) return drop('rate', `more than ${o.limits.requestsPerSecond} requests/s from ${levels.length === 3 && roles.has(levels[2] as string) ? `fleet operator ${levels[2] as string}` : 'operators without a role here'}`)
    if (!topic.startsWith(rpcPrefix)) return drop('badTopic', `topic ${topic}`)
    if (levels.length === 2) return drop('unvouched', `${topic} names no operator (the upstream's ACL vouches for rpc/<module>/<method>/<operator> only)`)
    const [module = '', method = '', operator = ''] = levels
    if (levels.length !== 3 || !isModuleName(module) || !isMethodName(method) || !SEGMENT.test(operator)) return drop('badTopic', `topic ${topic}`)
    const format = sniffFormat(payload)
    let request: Record<string, unknown>
    try {
      const decoded = decode(payload, format)
      if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded) || decoded instanceof Uint8Array) throw new Error('not a map')
      request = decoded as Record<string, unknown>
    } catch (err) {
      return drop('malformed', `${topic}: ${(err as Error).message}`)
    }
    const replyTopic = request.reply
    const own = o.topics.replyPrefix(operator)
    if (typeof replyTopic !== 'string' || !replyTopic.startsWith(own) || !SEGMENT.test(replyTopic.slice(own.length))) {
      return drop('malformed', `${topic}: "reply" must be ${own}<token>`)
    }
    const answer = (id: CorrelationId, body: unknown, sent: () => void = () => {}): void => {
      counters.answered++
      let bytes: Buffer
      try {
        bytes = encode(body, format)
      } catch (err) {
        bytes = encode(errorReply(id, 'HANDLER_FAILED', `the reply could not be encoded: ${(err as Error).message}`), format)
      }
      if (roles.has(operator)) replyBytesLeft(operator)
      const bucket = byteBuckets.get(operator)
      if (bucket !== undefined) bucket.tokens -= bytes.length
      if (bytes.length > o.limits.maxReplyBytes) {
        counters.replaced.tooLarge++
        warnOnce('replyTooLarge', `a reply to ${module}.${method} from fleet operator ${operator} was ${bytes.length} bytes, more than maxReplyBytes (${o.limits.maxReplyBytes}): sent TOO_LARGE instead (${counters.replaced.tooLarge} so far)`)
        bytes = encode(errorReply(id, 'TOO_LARGE', `the reply is ${bytes.length} bytes, more than the uplink sends (maxReplyBytes ${o.limits.maxReplyBytes}); ask for less`, { bytes: bytes.length, limit: o.limits.maxReplyBytes }), format)
      } else if (o.backlogBytes() > o.limits.maxBacklogBytes) {
        counters.replaced.backlog++
        bytes = encode(errorReply(id, 'UNAVAILABLE', backlogMessage(`the reply (${bytes.length} bytes) was not sent`)), format)
      }
      o.reply(replyTopic, bytes, sent)
    }
    const refuse = (id: CorrelationId, code: ErrorCode, message: string): void => answer(id, errorReply(id, code, message))
    const id = correlationId(request.id)
    if (id === null) return refuse(0, 'BAD_REQUEST', 'request envelope lacks an "id" (unsigned integer or text of 1 to 128 bytes)')
    if (request.timeout !== undefined && (typeof request.timeout !== 'number' || !(request.timeout > 0))) return refuse(id, 'BAD_REQUEST', '"timeout" must be a positive number of milliseconds')
    const role = roles.get(operator)
    const needed = minimumRole(module, method)
    if (role === undefined || needed === 'not-exposed' || ROLE_RANK[role] < ROLE_RANK[needed]) {
      counters.denied++
      const why = role === undefined
        ? `fleet operator ${operator} has no role on this gateway`
        : needed === 'not-exposed' ? `${module}.${method} is not exposed to the fleet` : `fleet operator ${operator} is a ${role}; ${module}.${method} needs ${needed}`
      warnOnce('denied', `refused ${module}.${method} from the upstream: ${why} (${counters.denied} refused so far)`)
      return refuse(id, 'NOT_AUTHORISED', why)
    }
    if (inFlight >= o.limits.maxInFlight) {
      counters.dropped.busy++
      return refuse(id, 'UNAVAILABLE', `the uplink has ${inFlight} requests in flight (limit ${o.limits.maxInFlight}); try again`)
    }
    const held = inFlightOf.get(operator) ?? 0
    if (held >= perOperator) {
      counters.dropped.operatorBusy++
      return refuse(id, 'UNAVAILABLE', `fleet operator ${operator} has ${held} requests in flight (limit ${perOperator} per operator); try again`)
    }
    const left = replyBytesLeft(operator)
    if (left <= 0) {
      counters.dropped.replyBytes++
      return refuse(id, 'UNAVAILABLE', `fleet operator ${operator} was sent more than ${o.limits.replyBytesPerSecond} bytes of replies a second (replyBytesPerSecond); try again in ${Math.ceil(((1 - left) / o.limits.replyBytesPerSecond) * 1000)} ms`)
    }
    // not executed: its reply would only add to what already waits for the link
    if (o.backlogBytes() > o.limits.maxBacklogBytes) {
      counters.dropped.backlog++
      warnOnce('backlog', `refused requests from the upstream: ${backlogMessage('')} (${counters.dropped.backlog} refused so far)`)
      return refuse(id, 'UNAVAILABLE', backlogMessage('not executed'))
    }
    inFlight++
    inFlightOf.set(operator, held + 1)
    const done = (): void => {
      inFlight--
      const left = (inFlightOf.get(operator) as number) - 1
      if (left === 0) inFlightOf.delete(operator)
      else inFlightOf.set(operator, left)
    }
    const timeout = Math.min(typeof request.timeout === 'number' ? request.timeout : DEFAULT_TIMEOUT_MS, o.limits.maxTimeoutMs)
    o.call(module, method, request.args ?? null, timeout, `${role}:${operator}`).then(
      result => answer(id, { id, result }, done),
      err => answer(id, { id, error: toErrorBody(err) }, done),
    )
  }
  /** why a request or reply is held back; `what` leads the sentence when given */
  const backlogMessage = (what: string): string =>
    `${what === '' ? '' : `${what}: `}${o.backlogBytes()} bytes wait unsent to the upstream (limit ${o.limits.maxBacklogBytes}), the link is slower than what is asked of it; try again later`
  return { onMessage, counters }
}
