// Envelopes: the CBOR maps carried by each topic family (docs/protocol.md, "Envelopes"). Keys are short
// lower-case text; readers ignore keys they do not know, so fields (and MQTT 5 properties) can be added.
import { OutpostError, isErrorCode } from '../errors.js'
import type { ErrorCode } from '../errors.js'

export type CorrelationId = number | string

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

export function isCorrelationId (value: unknown): value is CorrelationId {
  return (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && value.length > 0 && value.length <= 128)
}

export type RequestCheck =
  | { ok: true, request: RpcRequest }
  | { ok: false, reply: string | null, id: CorrelationId | null, message: string }

/** Checks a decoded request. When it is bad, says whether a reply topic could still be read. */
export function checkRequest (value: unknown): RequestCheck {
  if (!isObject(value)) return { ok: false, reply: null, id: null, message: 'request envelope is not a map' }
  const reply = typeof value.reply === 'string' && value.reply.startsWith('reply/') ? value.reply : null
  const id = isCorrelationId(value.id) ? value.id : null
  if (reply === null) return { ok: false, reply: null, id, message: 'request envelope lacks a "reply" topic under reply/' }
  if (id === null) return { ok: false, reply, id: null, message: 'request envelope lacks an "id" (unsigned integer or text up to 128 characters)' }
  if (value.timeout !== undefined && (typeof value.timeout !== 'number' || !(value.timeout > 0))) {
    return { ok: false, reply, id, message: '"timeout" must be a positive number of milliseconds' }
  }
  const request: RpcRequest = { id, reply, args: value.args }
  if (typeof value.from === 'string') request.from = value.from
  if (typeof value.timeout === 'number') request.timeout = value.timeout
  return { ok: true, request }
}

export type ReplyCheck = { ok: true, reply: RpcReply } | { ok: false, message: string }

export function checkReply (value: unknown): ReplyCheck {
  if (!isObject(value)) return { ok: false, message: 'reply envelope is not a map' }
  if (!isCorrelationId(value.id)) return { ok: false, message: 'reply envelope lacks an "id"' }
  if ('error' in value) {
    const error = value.error
    if (!isObject(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
      return { ok: false, message: 'reply "error" must be a map with text "code" and "message"' }
    }
    const body: RpcErrorBody = { code: error.code, message: error.message }
    if (error.details !== undefined) body.details = error.details
    return { ok: true, reply: { id: value.id, error: body } }
  }
  return { ok: true, reply: { id: value.id, result: value.result ?? null } }
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
