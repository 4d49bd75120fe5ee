// Envelopes: the CBOR maps carried by each topic family (docs/protocol.md, "Envelopes"). Keys are short
// lower-case text; readers ignore keys they do not know, so fields (and MQTT 5 properties) can be added.
import { OutpostError, isErrorCode } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { WireFormat } from './codec.js'
import { readEnvelopeHead } from './envelope-head.js'

/**
 * An unsigned integer up to 2^64 − 1 or text of 1–128 bytes. In CBOR the type is the encoded one (major type
 * 0 or 3: a float or a negative number is no id), and an id has one form, as cbor-x writes it back: a number
 * up to 2^32 − 1, a BigInt beyond (cbor-x would write a larger number as a float64). JSON has only numbers:
 * there an integer from 0 to 2^53 − 1 is an id, a number, and its reply is JSON again.
 */
export type CorrelationId = number | bigint | string

export interface RpcRequest {
  id: CorrelationId
  /** topic the callee publishes the reply on */
  reply: string
  args?: unknown
  /** the caller's client id, for tracing */
  from?: string
  /** how long the caller waits, in ms; a callee may drop work past it */
  timeout?: number
}

export interface RpcErrorBody {
  code: string
  message: string
  details?: unknown
}

export type RpcReply =
  | { id: CorrelationId, result: unknown }
  | { id: CorrelationId, error: RpcErrorBody }

export interface HookMessage {
  data: unknown
  /** emit time, ms since the Unix epoch */
  ts: number
  /** instance number of the emitting module process */
  instance: number
}

export interface Presence {
  state: 'ready' | 'offline'
  pid?: number
  methods?: string[]
  hooks?: string[]
  sdk?: string
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

const MAX_UINT64 = 2n ** 64n - 1n
const MAX_UINT32 = 0xffff_ffffn

/** The id in its one form (a BigInt up to 2^32 − 1 becomes a number), or null when `value` is not an id. */
export function correlationId (value: unknown): CorrelationId | null {
  switch (typeof value) {
    case 'number': return Number.isSafeInteger(value) && value >= 0 ? value : null
    case 'bigint': return value < 0n || value > MAX_UINT64 ? null : value <= MAX_UINT32 ? Number(value) : value
    case 'string': return value.length > 0 && Buffer.byteLength(value) <= 128 ? value : null
    default: return null
  }
}

/** What the envelope says of a request's routing: read from the bytes (envelope-head.ts), or a JSON object. */
export interface EnvelopeFields {
  id?: unknown
  reply?: unknown
  timeout?: unknown
  /** CBOR read whole: a receiver's decoder may read other fields than these (envelope-head.ts) */
  ambiguous?: true
  /** CBOR read whole: a value nests deeper than MAX_DEPTH allows */
  tooDeep?: true
}

/**
 * The routing fields of a request, without decoding the rest: in CBOR from the bytes, with their
 * exact types; in JSON from the top-level object (V8 parses JSON without recursion, and only the top level
 * is read here, so no depth limit is needed). Null when the payload is not a map. `whole`: every entry of
 * a CBOR map is read and the map checked (`ambiguous`), as the broker reads what it routes; else the
 * leading entries are enough when they hold all three (a module's read: the broker checked the rest).
 */
export function envelopeFields (payload: Buffer, format: WireFormat, whole = false): EnvelopeFields | null {
  if (format === 'cbor') {
    if (whole) return readEnvelopeHead(payload, false)
    // the SDK writes all three first; any other order, or a request without a timeout, is read whole
    const head = readEnvelopeHead(payload)
    return head === null || (head.id !== undefined && head.reply !== undefined && head.timeout !== undefined) ? head : readEnvelopeHead(payload, false)
  }
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'))
    return isObject(value) ? value : null
  } catch {
    return null
  }
}

/** the reply topic a request names, if it is one */
function replyTopicOf (fields: EnvelopeFields): string | null {
  return typeof fields.reply === 'string' && fields.reply.startsWith('reply/') ? fields.reply : null
}

export type RequestCheck =
  | { ok: true, request: RpcRequest }
  | { ok: false, reply: string | null, id: CorrelationId | null, message: string }

/**
 * Checks a request's envelope fields. When they are bad, says whether a reply topic could still be read,
 * and the id (0 when it could not be read: docs/protocol.md, "Malformed input").
 */
export function checkRequest (fields: EnvelopeFields | null): RequestCheck {
  if (fields === null) return { ok: false, reply: null, id: null, message: 'request envelope is not a map' }
  const reply = replyTopicOf(fields)
  const id = correlationId(fields.id)
  if (reply === null) return { ok: false, reply: null, id, message: 'request envelope lacks a "reply" topic under reply/' }
  if (id === null) return { ok: false, reply, id: null, message: 'request envelope lacks a valid "id" (an unsigned integer up to 2^64 − 1, or text of 1 to 128 bytes, given once)' }
  if (fields.timeout !== undefined && (typeof fields.timeout !== 'number' || !(fields.timeout > 0))) {
    return { ok: false, reply, id, message: '"timeout" must be a positive number of milliseconds, given once' }
  }
  const request: RpcRequest = { id, reply }
  if (typeof fields.timeout === 'number') request.timeout = fields.timeout
  return { ok: true, request }
}

export type ReplyCheck = { ok: true, reply: RpcReply } | { ok: false, message: string }

export function checkReply (value: unknown): ReplyCheck {
  if (!isObject(value)) return { ok: false, message: 'reply envelope is not a map' }
  const id = correlationId(value.id)
  if (id === null) return { ok: false, message: 'reply envelope lacks an "id"' }
  if ('error' in value) {
    const error = value.error
    if (!isObject(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
      return { ok: false, message: 'reply "error" must be a map with text "code" and "message"' }
    }
    const body: RpcErrorBody = { code: error.code, message: error.message }
    if (error.details !== undefined) body.details = error.details
    return { ok: true, reply: { id, error: body } }
  }
  return { ok: true, reply: { id, result: value.result ?? null } }
}

export function checkHook (value: unknown): HookMessage | null {
  if (!isObject(value) || !('data' in value)) return null
  return {
    data: value.data,
    ts: typeof value.ts === 'number' ? value.ts : 0,
    instance: typeof value.instance === 'number' ? value.instance : 0,
  }
}

export function errorReply (id: CorrelationId, code: ErrorCode, message: string, details?: unknown): RpcReply {
  const error: RpcErrorBody = { code, message }
  if (details !== undefined) error.details = details
  return { id, error }
}

/** Turns anything a handler threw into the error body of a reply. */
export function toErrorBody (err: unknown): RpcErrorBody {
  if (err instanceof OutpostError) {
    const body: RpcErrorBody = { code: err.code, message: err.message }
    if (err.details !== undefined) body.details = err.details
    return body
  }
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  return { code: isErrorCode(code) ? code : 'HANDLER_FAILED', message }
}

/**
 * Turns a received error body back into an OutpostError for the caller. Unknown codes keep their text. The
 * message names the call (`<module>.<method>: …`) once: the broker's and the core's answers already start so.
 */
export function fromErrorBody (body: RpcErrorBody, where: string): OutpostError {
  const code = isErrorCode(body.code) ? body.code : 'HANDLER_FAILED'
  const details: Record<string, unknown> = { where }
  if (body.details !== undefined) details.remote = body.details
  if (code !== body.code) details.remoteCode = body.code
  const named = body.message.startsWith(`${where}:`)
  return new OutpostError(code, named ? body.message : `${where}: ${body.message}`, { details })
}
