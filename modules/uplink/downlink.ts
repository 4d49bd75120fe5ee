// Requests coming down from the upstream: `<prefix>/rpc/<module>/<method>/<operator>`, where the operator
// level is what the upstream's ACL vouches for (only that operator may publish there: docs/fleet.md). Checks
// run cheapest first: size, rate, topic, decoding, envelope, role, exposure, requests in flight (all, and the
// operator's own), the upstream's backlog. The rate is kept per operator of the manifest, and in one bucket for
// everyone else (operators without a role here, topics that name none), so an upstream account with no role
// cannot spend the fleet admins' requests. What fails before a reply topic is known is dropped and counted;
// the rest is answered with an error.
// A request's slot is held until its reply has left the process: the socket has sent it on (`reply`'s `sent`).
// So are the reply bytes it holds: RESERVED_REPLY_BYTES from its admission, then its reply's real size,
// within `maxReplyBytesPerOperator` for the operator's requests and `maxReplyBytesInFlight` for all; the
// count of slots alone let eight answers of 6 MiB be held at once, and releasing a reply once the backlog was
// under its bound left up to maxBacklogBytes of replies in the socket uncharged (two operators flooding got
// the uplink killed). A reply goes up as the module
// sent it, only its id replaced (reply-id.ts); one that would pass `maxReplyBytes` or what is left of the
// budgets, or find the backlog over its bound, goes as a short error in its place.
import type { Role } from '../../core/broker/access.js'
import type { ErrorCode, OutpostError } from '../../core/errors.js'
import { decode, encode, sniffFormat } from '../../core/protocol/codec.js'
import type { WireFormat } from '../../core/protocol/codec.js'
import { correlationId, errorReply, toErrorBody } from '../../core/protocol/envelope.js'
import type { CorrelationId } from '../../core/protocol/envelope.js'
import { CORE_MODULE, isMethodName, isModuleName } from '../../core/protocol/topics.js'
import type { UplinkConfig } from '../../core/manifest/uplink-schema.js'
import { release } from './release.js'
import { transcodes, withReplyId } from './reply-id.js'
import { SEGMENT } from './topics.js'
import type { FleetTopics } from './topics.js'

export interface DownlinkCounters {
  received: number
  answered: number
  denied: number
  dropped: { tooLarge: number, rate: number, badTopic: number, unvouched: number, malformed: number, busy: number, operatorBusy: number, backlog: number, replyBytes: number, replyBudget: number, operatorReplyBudget: number }
  /** answers replaced by an error: larger than maxReplyBytes (TOO_LARGE), more than the reply budgets had left or the
   * backlog over its bound when ready (UNAVAILABLE), not a map with an id (HANDLER_FAILED) */
  replaced: { tooLarge: number, replyBudget: number, backlog: number, malformed: number }
}

export interface DownlinkOptions {
  topics: FleetTopics
  limits: UplinkConfig['limits']
  operators: UplinkConfig['operators']
  expose: UplinkConfig['expose']
  /** the reply envelope's bytes, as the module sent them */
  call: (module: string, method: string, args: unknown, timeout: number, onBehalf: string) => Promise<Buffer>
  /** hands a reply (its pieces, one after the other) to the upstream; `sent` once the socket has sent it on (or the connection went) */
  reply: (topic: string, payload: readonly Buffer[], sent: () => void) => void
  /** bytes waiting unsent to the upstream now */
  backlogBytes: () => number
  warn: (text: string) => void
  now?: () => number
}

const ROLE_RANK: Record<Role, number> = { viewer: 0, admin: 1 }
/** the bucket of every request whose operator has no role here; no operator is named so (not a valid user name) */
const OTHERS = ' others'
const DEFAULT_TIMEOUT_MS = 10_000
/** reply bytes an admitted request holds until its reply comes: what an error or a small answer takes */
export const RESERVED_REPLY_BYTES = 65_536
/** the largest reply (as the module sent it) the uplink decodes to answer in the other format: a request in JSON, or a module answering in JSON */
export const MAX_TRANSCODED_BYTES = 65_536

export interface Downlink {
  onMessage: (topic: string, payload: Buffer) => void
  counters: DownlinkCounters
  /** reply bytes held in the uplink now, reservations included */
  replyBytesHeld: () => number
  replyRoom: () => number
}

export function createDownlink (o: DownlinkOptions): Downlink {
  const now = o.now ?? (() => performance.now())
  const roles = new Map(o.operators.map(op => [op.user, op.role]))
  const counters: DownlinkCounters = {
    received: 0,
    answered: 0,
    denied: 0,
    dropped: { tooLarge: 0, rate: 0, badTopic: 0, unvouched: 0, malformed: 0, busy: 0, operatorBusy: 0, backlog: 0, replyBytes: 0, replyBudget: 0, operatorReplyBudget: 0 },
    replaced: { tooLarge: 0, replyBudget: 0, backlog: 0, malformed: 0 },
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
  // reply bytes sent, per operator with a role here: a reply is charged once made (it may run the bucket into
  // debt), and the operator's requests are refused while it is in debt. Every reply passes through the
  // uplink's memory once received, so what it is asked to carry per second, not only what it holds at once,
  // is what waits for the garbage collector
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
  // reply bytes held, from admission until the socket has sent the reply on, in all and per operator with a request
  // in flight; an operator never holds more than the whole
  let held = 0
  const heldOf = new Map<string, number>()
  const perOperatorBytes = Math.min(o.limits.maxReplyBytesPerOperator, o.limits.maxReplyBytesInFlight)
  const hold = (operator: string, bytes: number): void => {
    held += bytes
    const now = (heldOf.get(operator) ?? 0) + bytes
    if (now === 0) heldOf.delete(operator)
    else heldOf.set(operator, now)
  }
  /** why `operator` may not hold `more` reply bytes: the limit's sentence, or undefined when it may */
  const overBudget = (operator: string, more: number): string | undefined => {
    const own = heldOf.get(operator) ?? 0
    if (own + more > perOperatorBytes) return `fleet operator ${operator}'s replies hold ${own} bytes in the uplink (maxReplyBytesPerOperator ${perOperatorBytes})`
    if (held + more > o.limits.maxReplyBytesInFlight) return `replies hold ${held} bytes in the uplink (maxReplyBytesInFlight ${o.limits.maxReplyBytesInFlight})`
    return undefined
  }
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
    /** hands the reply's pieces up, or a short error in their place; `admitted`: the request holds reply bytes (`reserved` of them);
     * `received`: the buffers the reply came in, released once it is sent on or dropped */
    const deliver = (id: CorrelationId, pieces: Buffer[], admitted?: { reserved: number, sent: () => void }, received: readonly Buffer[] = []): void => {
      counters.answered++
      let size = 0
      for (const piece of pieces) size += piece.length
      if (roles.has(operator)) replyBytesLeft(operator)
      const bucket = byteBuckets.get(operator)
      if (bucket !== undefined) bucket.tokens -= size
      const overBy = admitted === undefined || size <= admitted.reserved ? undefined : overBudget(operator, size - admitted.reserved)
      let bytes: Buffer | undefined // an error in the reply's place
      if (size > o.limits.maxReplyBytes) bytes = tooLarge(id, size)
      else if (overBy !== undefined) bytes = overBudgetError(id, size, overBy)
      else if (o.backlogBytes() > o.limits.maxBacklogBytes) {
        counters.replaced.backlog++
        bytes = encodeReply(errorReply(id, 'UNAVAILABLE', backlogMessage(`the reply (${size} bytes) was not sent`)), format)
      }
      // only the buffers the reply came in: the pieces may lie in the CBOR encoder's own (reply-id.ts splices an id in)
      if (bytes === undefined) send(pieces, size, admitted, () => release(received))
      else {
        release(received)
        send([bytes], bytes.length, admitted)
      }
    }
    /** hands the pieces up, holding their bytes in the request's place until the socket has sent them on (then `done`) */
    const send = (pieces: Buffer[], size: number, admitted?: { reserved: number, sent: () => void }, done = (): void => {}): void => {
      if (admitted === undefined) return o.reply(replyTopic, pieces, done)
      hold(operator, size - admitted.reserved)
      o.reply(replyTopic, pieces, () => {
        hold(operator, -size)
        admitted.sent()
        done()
      })
    }
    const tooLarge = (id: CorrelationId, size: number): Buffer => {
      counters.replaced.tooLarge++
      warnOnce('replyTooLarge', `a reply to ${module}.${method} from fleet operator ${operator} was ${size} bytes, more than maxReplyBytes (${o.limits.maxReplyBytes}): sent TOO_LARGE instead (${counters.replaced.tooLarge} so far)`)
      return encodeReply(errorReply(id, 'TOO_LARGE', `the reply is ${size} bytes, more than the uplink sends (maxReplyBytes ${o.limits.maxReplyBytes}); ask for less`, { bytes: size, limit: o.limits.maxReplyBytes }), format)
    }
    const overBudgetError = (id: CorrelationId, size: number, overBy: string): Buffer => {
      counters.replaced.replyBudget++
      warnOnce('replyBudget', `a reply to ${module}.${method} from fleet operator ${operator} was not sent: ${overBy} (${counters.replaced.replyBudget} so far)`)
      return encodeReply(errorReply(id, 'UNAVAILABLE', `the reply (${size} bytes) was not sent: ${overBy}, the link is slower than what is asked of it; try again later`), format)
    }
    /** a reply the SDK read through without keeping it (limitReplies): `size` is its packet's */
    const unkept = (id: CorrelationId, size: number, admitted: { reserved: number, sent: () => void }): void => {
      // charged as a reply made (the module sent it, the local broker carried it), less the error sent in its place
      const bucket = byteBuckets.get(operator)
      if (bucket !== undefined) bucket.tokens -= size
      let error: Buffer
      if (size > o.limits.maxReplyBytes) error = tooLarge(id, size)
      else if (o.backlogBytes() > o.limits.maxBacklogBytes) {
        counters.replaced.backlog++
        error = encodeReply(errorReply(id, 'UNAVAILABLE', backlogMessage(`the reply (${size} bytes) was not sent`)), format)
      } else error = overBudgetError(id, size, overBudget(operator, size - admitted.reserved) ?? `replies hold ${held} bytes in the uplink (maxReplyBytesInFlight ${o.limits.maxReplyBytesInFlight})`)
      counters.answered++
      send([error], error.length, admitted)
    }
    const answer = (id: CorrelationId, body: unknown, admitted?: { reserved: number, sent: () => void }): void => deliver(id, [encodeReply(body, format)], admitted)
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
    const overBy = overBudget(operator, RESERVED_REPLY_BYTES)
    if (overBy !== undefined) {
      const kind = overBy.includes('maxReplyBytesPerOperator') ? 'operatorReplyBudget' : 'replyBudget'
      counters.dropped[kind]++
      warnOnce(kind, `refused requests from the upstream: ${overBy} (${counters.dropped[kind]} refused so far)`)
      return refuse(id, 'UNAVAILABLE', `not executed: ${overBy}, the link is slower than what is asked of it; try again later`)
    }
    hold(operator, RESERVED_REPLY_BYTES)
    inFlight++
    inFlightOf.set(operator, held + 1)
    const done = (): void => {
      inFlight--
      const left = (inFlightOf.get(operator) as number) - 1
      if (left === 0) inFlightOf.delete(operator)
      else inFlightOf.set(operator, left)
    }
    const timeout = Math.min(typeof request.timeout === 'number' ? request.timeout : DEFAULT_TIMEOUT_MS, o.limits.maxTimeoutMs)
    const admitted = { reserved: RESERVED_REPLY_BYTES, sent: done }
    o.call(module, method, request.args ?? null, timeout, `${role}:${operator}`).then(
      reply => {
        // a reply in the other format is decoded whole: a few bytes a value take a hundred once decoded (review 5:
        // 256 KiB of empty byte strings, 28 MiB of heap, killed the uplink), so only small ones are turned
        const size = reply.length // read before release, which may detach the buffer
        if (transcodes(reply, format) && size > MAX_TRANSCODED_BYTES) {
          release([reply])
          counters.replaced.tooLarge++
          warnOnce('replyTooLarge', `a reply to ${module}.${method} from fleet operator ${operator} was ${size} bytes, more than the uplink turns from one format into the other (${MAX_TRANSCODED_BYTES}): sent TOO_LARGE instead (${counters.replaced.tooLarge} so far)`)
          return answer(id, errorReply(id, 'TOO_LARGE', `the reply is ${size} bytes, more than the uplink turns from one format into the other (${MAX_TRANSCODED_BYTES}); ask in CBOR`, { bytes: size, limit: MAX_TRANSCODED_BYTES }), admitted)
        }
        const bytes = withReplyId(reply, id, format)
        if (bytes !== null) return deliver(id, bytes, admitted, [reply])
        release([reply])
        counters.replaced.malformed++
        warnOnce('replyMalformed', `a reply from ${module}.${method} is not a map with an id: not passed on (${counters.replaced.malformed} so far)`)
        answer(id, errorReply(id, 'HANDLER_FAILED', `the reply from ${module}.${method} could not be read (not a map with an id); not passed on`), admitted)
      },
      err => {
        const bytes = ((err as OutpostError).details as { bytes?: unknown } | undefined)?.bytes
        if ((err as OutpostError).code === 'TOO_LARGE' && typeof bytes === 'number') unkept(id, bytes, admitted)
        else answer(id, { id, error: toErrorBody(err) }, admitted)
      },
    )
  }
  /** why a request or reply is held back; `what` leads the sentence when given */
  const backlogMessage = (what: string): string =>
    `${what === '' ? '' : `${what}: `}${o.backlogBytes()} bytes wait unsent to the upstream (limit ${o.limits.maxBacklogBytes}), the link is slower than what is asked of it; try again later`
  /** the largest reply the uplink can take in now (the SDK reads larger ones through unkept): at most maxReplyBytes,
   * and what is left of maxReplyBytesInFlight, a reply's own reservation counted as free; while the backlog is
   * over its bound, only what a short error takes (a reply would be replaced by one) */
  const replyRoom = (): number => o.backlogBytes() > o.limits.maxBacklogBytes
    ? RESERVED_REPLY_BYTES
    : Math.min(o.limits.maxReplyBytes, o.limits.maxReplyBytesInFlight - held + RESERVED_REPLY_BYTES)
  return { onMessage, counters, replyBytesHeld: () => held, replyRoom }
}

/** The uplink's own answers (refusals, replacements, a call that got no reply); one it cannot encode says so instead. */
function encodeReply (body: unknown, format: WireFormat): Buffer {
  try {
    return encode(body, format)
  } catch (err) {
    return encode(errorReply((body as { id: CorrelationId }).id, 'HANDLER_FAILED', `the reply could not be encoded: ${(err as Error).message}`), format)
  }
}
