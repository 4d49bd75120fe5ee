// Serving one RPC request: read the envelope, check it, decode, dispatch, reply in the request's format.
// Shared by the module SDK and the core's own bus participant so both answer malformed input the same way.
import { decode, encode, sniffFormat } from './codec.js'
import { checkRequest, envelopeFields, errorReply, toErrorBody } from './envelope.js'
import type { CorrelationId, RpcReply } from './envelope.js'
import { OutpostError } from '../errors.js'
import { decodeWithContext } from './trace-context.js'
import type { TraceContext } from './trace-context.js'

export interface CallInfo {
  /** caller's client id, as the request says */
  from: string | undefined
  id: CorrelationId
  /** how long the caller waits, when the request says */
  timeout: number | undefined
}

export type MethodHandler = (args: any, call: CallInfo) => unknown

export interface ServeContext {
  /** the serving module's name, for messages */
  owner: string
  methods: ReadonlyMap<string, MethodHandler>
  send: (topic: string, payload: Buffer) => void
  warn: (message: string, fields: Record<string, unknown>) => void
  /**
   * Runs a handler with the request's trace context, undefined when it came without a valid one (the SDK's
   * tracer: core/sdk/tracer.ts); `invoke` calls the handler, and what it returns is the handler's result.
   * Absent: the context is not read, and the handler is called as it is.
   */
  traced?: (method: string, context: TraceContext | undefined, invoke: () => unknown) => unknown
}

export function serveRequest (ctx: ServeContext, method: string, payload: Uint8Array): void {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  const format = sniffFormat(bytes)
  const respond = (topic: string, message: RpcReply): void => {
    let encoded: Buffer
    try {
      encoded = encode(message, format)
    } catch (err) {
      encoded = encode(errorReply(message.id, 'HANDLER_FAILED', `result of ${ctx.owner}.${method} cannot be encoded: ${(err as Error).message}`), format)
    }
    ctx.send(topic, encoded)
  }

  // id and reply come from the envelope's bytes, as the broker reads them: the two agree on what is an id,
  // and a request whose arguments do not decode can still be answered
  const checked = checkRequest(envelopeFields(bytes, format))
  if (!checked.ok) {
    if (checked.reply === null) ctx.warn('dropped malformed request: no reply topic to answer on', { method, format, reason: checked.message })
    else respond(checked.reply, errorReply(checked.id ?? 0, 'BAD_REQUEST', checked.message))
    return
  }
  const { request } = checked
  let decoded: { args?: unknown, from?: unknown }
  let context: TraceContext | undefined
  try {
    if (ctx.traced === undefined) decoded = decode(bytes, format) as { args?: unknown, from?: unknown }
    else ({ envelope: decoded, context } = decodeWithContext(bytes, format) as { envelope: { args?: unknown, from?: unknown }, context: TraceContext | undefined })
  } catch (err) {
    // the codec's own refusals (too deep) carry their limit as details
    respond(request.reply, errorReply(request.id, 'BAD_REQUEST', (err as Error).message, err instanceof OutpostError ? err.details : undefined))
    return
  }
  const handler = ctx.methods.get(method)
  if (handler === undefined) {
    const methods = [...ctx.methods.keys()]
    respond(request.reply, errorReply(request.id, 'NO_SUCH_METHOD', `${ctx.owner}.${method}: no such method (${ctx.owner} has: ${methods.join(', ') || 'none'})`, { methods }))
    return
  }
  const from = typeof decoded.from === 'string' ? decoded.from : undefined
  let result: unknown
  try {
    const call: CallInfo = { from, id: request.id, timeout: request.timeout }
    result = ctx.traced === undefined
      ? handler(decoded.args ?? null, call)
      : ctx.traced(method, context, () => handler(decoded.args ?? null, call))
  } catch (err) {
    respond(request.reply, { id: request.id, error: toErrorBody(err) })
    return
  }
  if (result instanceof Promise) {
    result.then(
      value => respond(request.reply, { id: request.id, result: value ?? null }),
      err => respond(request.reply, { id: request.id, error: toErrorBody(err) }),
    )
  } else {
    respond(request.reply, { id: request.id, result: result ?? null })
  }
}
