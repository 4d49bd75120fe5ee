// Serving one RPC request: decode, check the envelope, dispatch, reply in the request's format. Shared by
// the module SDK and the core's own bus participant so both answer malformed input the same way.
import { decode, encode, sniffFormat } from './codec.js'
import { checkRequest, errorReply, toErrorBody } from './envelope.js'
import type { CorrelationId, RpcReply } from './envelope.js'

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
}

export function serveRequest (ctx: ServeContext, method: string, payload: Uint8Array): void {
  const format = sniffFormat(payload)
  const respond = (topic: string, message: RpcReply): void => {
    let bytes: Buffer
    try {
      bytes = encode(message, format)
    } catch (err) {
      bytes = encode(errorReply(message.id, 'HANDLER_FAILED', `result of ${ctx.owner}.${method} cannot be encoded: ${(err as Error).message}`), format)
    }
    ctx.send(topic, bytes)
  }

  let decoded: unknown
  try {
    decoded = decode(payload, format)
  } catch (err) {
    ctx.warn('dropped malformed request: payload does not decode', { method, format, error: (err as Error).message })
    return
  }
  const checked = checkRequest(decoded)
  if (!checked.ok) {
    if (checked.reply === null) ctx.warn('dropped malformed request: no reply topic to answer on', { method, reason: checked.message })
    else respond(checked.reply, errorReply(checked.id ?? 0, 'BAD_REQUEST', checked.message))
    return
  }
  const { request } = checked
  const handler = ctx.methods.get(method)
  if (handler === undefined) {
    respond(request.reply, errorReply(request.id, 'NO_SUCH_METHOD', `module ${ctx.owner} has no method "${method}"`, { methods: [...ctx.methods.keys()] }))
    return
  }
  let result: unknown
  try {
    result = handler(request.args ?? null, { from: request.from, id: request.id, timeout: request.timeout })
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
