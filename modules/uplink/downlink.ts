// Requests coming down from the upstream: `<prefix>/rpc/<module>/<method>/<operator>`, where the operator
// level is what the upstream's ACL vouches for (only that operator may publish there: docs/fleet.md). Checks
// run cheapest first: size, rate, topic, decoding, envelope, role, exposure, requests in flight. The rate is
// kept per operator of the manifest, and in one bucket for everyone else (operators without a role here,
// topics that name none), so an upstream account with no role cannot spend the fleet admins' requests. What
// fails before a reply topic is known is dropped and counted; the rest is answered with an error.
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
  dropped: { tooLarge: number, rate: number, badTopic: number, unvouched: number, malformed: number, busy: number }
}

export interface DownlinkOptions {
  topics: FleetTopics
  limits: UplinkConfig['limits']
  operators: UplinkConfig['operators']
  expose: UplinkConfig['expose']
  call: (module: string, method: string, args: unknown, timeout: number, onBehalf: string) => Promise<unknown>
  reply: (topic: string, payload: Buffer) => void
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
  const counters: DownlinkCounters = { received: 0, answered: 0, denied: 0, dropped: { tooLarge: 0, rate: 0, badTopic: 0, unvouched: 0, malformed: 0, busy: 0 } }
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
  let inFlight = 0
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
    const answer = (id: CorrelationId, body: unknown): void => {
      counters.answered++
      let bytes: Buffer
      try {
        bytes = encode(body, format)
      } catch (err) {
        bytes = encode(errorReply(id, 'HANDLER_FAILED', `the reply could not be encoded: ${(err as Error).message}`), format)
      }
      o.reply(replyTopic, bytes)
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
    inFlight++
    const timeout = Math.min(typeof request.timeout === 'number' ? request.timeout : DEFAULT_TIMEOUT_MS, o.limits.maxTimeoutMs)
    o.call(module, method, request.args ?? null, timeout, `${role}:${operator}`).then(
      result => answer(id, { id, result }),
      err => answer(id, { id, error: toErrorBody(err) }),
    ).finally(() => { inFlight-- })
  }
  return { onMessage, counters }
}
