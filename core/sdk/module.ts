// The module SDK: the one API every driver and application module uses (docs/protocol.md describes the
// wire behaviour it implements, so a module in another language can do the same).
import { OutpostError } from '../errors.js'
import { encodeCbor, decode, epochMs, sniffFormat } from '../protocol/codec.js'
import { readEnvelopeId } from '../protocol/envelope-head.js'
import { checkReply, checkHook, fromErrorBody } from '../protocol/envelope.js'
import type { Presence } from '../protocol/envelope.js'
import { serveRequest } from '../protocol/serve.js'
import type { MethodHandler, ServeContext } from '../protocol/serve.js'
import { contextEntries, decodeWithContext, encodeBeforeContext } from '../protocol/trace-context.js'
import type { TraceContext } from '../protocol/trace-context.js'
import { topics, clientIdOf, hookFilter, isHookName, isMethodName, matchTopic, parseTopic } from '../protocol/topics.js'
import { connectMqtt } from './mqtt-client.js'
import type { MqttClient } from './mqtt-client.js'
import { readModuleEnv } from './env.js'
import type { ModuleEnv } from './env.js'
import { createLogger } from './log.js'
import type { Logger } from './log.js'
import { pendingCalls } from './pending-calls.js'
import { READS_START_CLEAN, createTracer } from './tracer.js'

export const SDK_VERSION = 'outpost-js/0.1.0'
const DEFAULT_CALL_TIMEOUT_MS = 5000
const STOP_HANDLERS_TIMEOUT_MS = 3000

export type { CallInfo, MethodHandler } from '../protocol/serve.js'
export interface HookEvent {
  module: string
  hook: string
  instance: number
  ts: number
  topic: string
}
export type HookHandler = (data: any, event: HookEvent) => void

export interface CallOptions {
  timeout?: number
  /** `<role>:<user>`: the fleet operator a call to `core` is made for; the broker honours it only from the
   * built-in uplink module (docs/fleet.md) */
  onBehalf?: string
}

/** A raw message: the topic and its payload as received (valid only during the call); `retained` when the
 * broker replays it from its retained store to the new subscription rather than passing on a live publish. */
export type RawHandler = (topic: string, payload: Buffer, retained: boolean) => void

export interface OutpostModule<Config = unknown> {
  readonly name: string
  readonly instance: number
  readonly clientId: string
  readonly config: Config
  readonly env: ModuleEnv
  readonly log: Logger
  /** Declares an RPC method. Declare methods before start(): they are subscribed before the module says ready. */
  method (name: string, handler: MethodHandler): OutpostModule<Config>
  /** Declares hooks the module emits; a declaration may use `+` for one level (`edge/+`). */
  hooks (...names: string[]): OutpostModule<Config>
  /** Listens to hooks: pattern is `<module>/<hook>` with MQTT wildcards, e.g. `sensor/reading`, `+/edge/#`. */
  on (pattern: string, handler: HookHandler): OutpostModule<Config>
  /** Receives messages on a `hooks/…`, `state/…`, `presence/…` or `spans/…` filter as they are, undecoded (a bridge
   * passes them on). Declare before start(). */
  watch (filter: string, handler: RawHandler): OutpostModule<Config>
  onStop (fn: () => unknown): OutpostModule<Config>
  /** Connects, subscribes, announces presence (ready). */
  start (): Promise<void>
  emit (hook: string, data: unknown): void
  call<T = unknown> (module: string, method: string, args?: unknown, options?: CallOptions): Promise<T>
  /** As `call`, but resolves with the reply envelope's bytes as the callee sent them (CBOR, or JSON from a callee
   * that answers so), error replies included, never decoded: for a bridge that passes replies on (the uplink).
   * Rejects only when no reply comes (timeout, connection lost). */
  callRaw (module: string, method: string, args?: unknown, options?: CallOptions): Promise<Buffer>
  /** Replies larger than `bytes()` (the whole packet, asked as each one starts to arrive) are read through without
   * being kept: their call rejects with TOO_LARGE. For a bridge that would only drop them (the uplink). Before start(). */
  limitReplies (bytes: () => number): OutpostModule<Config>
  /** Runs stop handlers, says offline, disconnects. Does not exit the process. */
  stop (): Promise<void>
}

interface PendingCall {
  resolve: (value: any) => void
  reject: (err: Error) => void
  module: string
  method: string
  timeout: number
  deadline: number
  /** resolved with the reply's bytes (callRaw) */
  raw: boolean
}

export function createModule<Config = unknown> (env: ModuleEnv = readModuleEnv()): OutpostModule<Config> {
  const clientId = clientIdOf(env.module, env.instance)
  const replyTopic = topics.reply(clientId)
  const log = createLogger(env.logLevel)
  const methods = new Map<string, MethodHandler>()
  const declaredHooks: string[] = []
  const listeners: Array<{ filter: string, handler: HookHandler }> = []
  const watchers: Array<{ filter: string, handler: RawHandler }> = []
  const stopHandlers: Array<() => unknown> = []
  // raw calls pending: while there are none, a reply's id is not looked for before it is decoded
  let rawPending = 0
  const pending = pendingCalls<PendingCall>(({ reject, module, method, timeout, raw }) => {
    if (raw) rawPending--
    reject(new OutpostError('TIMEOUT', `${module}.${method}: no reply within ${timeout} ms`, { details: { module, method, timeout } }))
  })
  let client: MqttClient | undefined
  let replyLimit: (() => number) | undefined
  let nextId = 1
  let stopping: Promise<void> | undefined

  /** QoS 0; false once the connection is closed (the module is stopping or about to exit). `context`: the trace
   * context's keys go after the envelope's own */
  const send = (topic: string, envelope: Record<string, unknown>, context?: TraceContext): boolean => {
    if (client === undefined) throw new OutpostError('NOT_CONNECTED', `module ${env.module} is not started`)
    return context === undefined ? client.send(topic, encodeCbor(envelope)) : client.send(topic, encodeBeforeContext(envelope), contextEntries(context))
  }

  // tracing is on when the core says so (docs/observability.md); spans go on the module's own spans topic
  const spansTopic = topics.spans(env.module, env.instance)
  const tracer = env.traceSampleRate === undefined
    ? undefined
    : createTracer({ sampleRate: env.traceSampleRate, send: batch => client?.send(spansTopic, encodeCbor(batch)) ?? false })

  const serveContext: ServeContext = {
    owner: env.module,
    methods,
    send: (topic, payload) => { client?.send(topic, payload) },
    warn: (message, fields) => log.warn(message, fields),
  }
  if (tracer !== undefined) serveContext.traced = (method, context, invoke) => tracer.serve(method, context, invoke)

  const onReply = (payload: Buffer): void => {
    // a raw call's reply goes on undecoded: its id is read from the bytes (the whole map, wherever it is)
    if (rawPending > 0) {
      const id = readEnvelopeId(payload, false)
      const call = typeof id === 'number' ? pending.peek(id) : undefined
      if (call?.raw === true) {
        pending.take(id as number)
        rawPending--
        call.resolve(payload)
        return
      }
    }
    let decoded: unknown
    try {
      decoded = decode(payload, sniffFormat(payload))
    } catch (err) {
      log.warn('dropped malformed reply', { error: err as Error })
      return
    }
    const checked = checkReply(decoded)
    if (!checked.ok) {
      log.warn('dropped malformed reply', { reason: checked.message })
      return
    }
    const call = pending.take(checked.reply.id)
    if (call === undefined) {
      // id 0 with an error: a callee could not read one of our requests' ids (docs/protocol.md); this SDK
      // numbers its calls from 1, so the call it was cannot be told, and it times out
      if (checked.reply.id === 0 && 'error' in checked.reply) log.warn('a callee could not read one of our requests', { code: checked.reply.error.code, message: checked.reply.error.message })
      return // else: a late reply after a timeout
    }
    if (call.raw) { // a reply in JSON, whose id only decoding could read
      rawPending--
      call.resolve(payload)
    } else if ('error' in checked.reply) call.reject(fromErrorBody(checked.reply.error, `${call.module}.${call.method}`))
    else call.resolve(checked.reply.result)
  }

  /** a reply read through unkept (limitReplies): its call, found by the id at the head of its envelope, fails */
  const onOversized = (topic: string, head: Buffer, bytes: number): void => {
    if (topic !== replyTopic) return
    const id = readEnvelopeId(head)
    const call = typeof id === 'number' || typeof id === 'string' ? pending.take(id) : undefined
    if (call === undefined) {
      log.warn('dropped a reply larger than this module takes, whose call could not be told', { bytes })
      return
    }
    if (call.raw) rawPending--
    const limit = replyLimit?.() ?? 0
    call.reject(new OutpostError('TOO_LARGE', `${call.module}.${call.method}: the reply is ${bytes} bytes, more than module ${env.module} takes (${limit})`, { details: { bytes, limit } }))
  }

  const onHook = (topic: string, owner: string, hook: string, payload: Buffer): void => {
    let message
    let context: TraceContext | undefined
    try {
      const format = sniffFormat(payload)
      // a hook's context is read from CBOR only (docs/protocol.md: its ids are byte strings)
      if (tracer === undefined || format === 'json') message = checkHook(decode(payload, format))
      else {
        const traced = decodeWithContext(payload, format)
        message = checkHook(traced.envelope)
        context = traced.context
      }
    } catch {
      message = null
    }
    if (message === null) {
      log.warn('dropped malformed hook message', { topic })
      return
    }
    const event: HookEvent = { module: owner, hook, instance: message.instance, ts: message.ts, topic }
    const run = (): void => {
      for (const { filter, handler } of listeners) {
        if (!matchTopic(filter, topic)) continue
        try {
          handler(message.data, event)
        } catch (err) {
          log.error('hook handler threw', { topic, error: err as Error })
        }
      }
    }
    if (tracer === undefined) run()
    // a hook that reaches no listener (it came for a watch) is no step of a trace
    else if (listeners.some(({ filter }) => matchTopic(filter, topic))) tracer.handle(owner, hook, context, run)
    else run()
  }

  // the module's subscriptions are its reply topic, rpc/<module>/+ and hook filters: the first two are told
  // apart by comparison, without taking the topic apart
  const rpcPrefix = topics.rpc(env.module, '')
  const onMessage = (topic: string, payload: Buffer, retained: boolean): void => {
    if (topic === replyTopic) onReply(payload)
    else if (topic.startsWith(rpcPrefix)) serveRequest(serveContext, topic.slice(rpcPrefix.length), payload)
    else {
      if (watchers.length > 0) {
        if (tracer === undefined) onWatched(topic, payload, retained)
        else tracer.outside(() => { onWatched(topic, payload, retained) })
      }
      const parsed = parseTopic(topic)
      if (parsed?.kind === 'hook') onHook(topic, parsed.owner, parsed.name, payload)
    }
  }

  const onWatched = (topic: string, payload: Buffer, retained: boolean): void => {
    for (const { filter, handler } of watchers) {
      if (!matchTopic(filter, topic)) continue
      try {
        handler(topic, payload, retained)
      } catch (err) {
        log.error('watch handler threw', { topic, error: err as Error })
      }
    }
  }

  const makeCall = (module: string, method: string, args: unknown, options: CallOptions, raw: boolean): Promise<any> => {
    const timeout = options.timeout ?? DEFAULT_CALL_TIMEOUT_MS
    const id = nextId
    nextId = nextId === 0xffff_ffff ? 1 : nextId + 1 // a larger number would travel as a float64, which is no id
    return new Promise((resolve, reject) => {
      // a throw in here rejects the call; id, reply and timeout go first, for the broker (docs/protocol.md)
      const request = options.onBehalf === undefined
        ? { id, reply: replyTopic, timeout, from: clientId, args: args ?? null }
        : { id, reply: replyTopic, timeout, from: clientId, args: args ?? null, onBehalf: options.onBehalf }
      const traced = tracer?.call(module, method)
      const end = traced?.end
      if (end !== undefined) {
        const settle = resolve
        const fail = reject
        resolve = value => { end(null); settle(value) }
        reject = err => { end((err as { code?: string }).code ?? 'HANDLER_FAILED'); fail(err) }
      }
      if (!send(topics.rpc(module, method), request, traced?.fields)) {
        throw new OutpostError('NOT_CONNECTED', `${module}.${method}: module ${env.module} is not connected to the broker`)
      }
      // a timeout that is not a positive number (NaN included) expires at once, as setTimeout would have it
      pending.add(id, { resolve, reject, module, method, timeout, deadline: performance.now() + (timeout > 0 ? timeout : 0), raw })
      if (raw) rawPending++
    })
  }

  const self: OutpostModule<Config> = {
    name: env.module,
    instance: env.instance,
    clientId,
    config: env.config as Config,
    env,
    log,

    method (name, handler) {
      if (!isMethodName(name)) throw new OutpostError('BAD_ARGUMENTS', `method name "${name}" must match [A-Za-z][A-Za-z0-9_-]*`)
      methods.set(name, handler)
      return self
    },

    hooks (...names) {
      for (const name of names) {
        if (!isHookName(name.replaceAll('+', 'x'))) throw new OutpostError('BAD_ARGUMENTS', `hook name "${name}" must be up to 4 levels of [A-Za-z0-9_-]`)
        declaredHooks.push(name)
      }
      return self
    },

    on (pattern, handler) {
      const filter = hookFilter(pattern)
      listeners.push({ filter, handler })
      if (client !== undefined) client.subscribe([filter]).catch(err => log.error('subscribe failed', { pattern, error: err as Error }))
      return self
    },

    watch (filter, handler) {
      if (!/^(hooks|state|presence|spans)\//.test(filter)) throw new OutpostError('BAD_ARGUMENTS', `watch filter "${filter}" must start with hooks/, state/, presence/ or spans/`)
      watchers.push({ filter, handler })
      return self
    },

    limitReplies (bytes) {
      replyLimit = bytes
      return self
    },

    onStop (fn) {
      stopHandlers.push(fn)
      return self
    },

    async start () {
      const offline: Presence = { state: 'offline' }
      const presenceTopic = topics.presence(env.module, env.instance)
      const options: Parameters<typeof connectMqtt>[0] = {
        url: env.brokerUrl,
        clientId,
        username: env.username,
        password: env.password,
        keepaliveSeconds: env.keepaliveSeconds,
        will: { topic: presenceTopic, payload: encodeCbor(offline), retain: true, qos: 0 },
      }
      const limit = replyLimit
      if (limit !== undefined) options.keep = (topic, bytes) => topic !== replyTopic || bytes <= limit()
      client = await connectMqtt(options)
      client.onMessage(onMessage)
      if (tracer !== undefined && !READS_START_CLEAN) client.onReadDone(tracer.leave)
      client.onOversized(onOversized)
      client.events.once('close', (reason: string) => {
        if (stopping !== undefined) return
        // A module cannot work without the broker, and the core restarts it: leave rather than linger.
        log.error('lost the broker connection; exiting', { reason })
        process.exitCode = 1
        setImmediate(() => process.exit(1))
      })
      const filters = [...new Set([replyTopic, ...listeners.map(l => l.filter), ...watchers.map(w => w.filter)])]
      if (methods.size > 0) filters.push(topics.rpcAll(env.module))
      await client.subscribe(filters)
      const ready: Presence = { state: 'ready', pid: process.pid, methods: [...methods.keys()], hooks: declaredHooks, sdk: SDK_VERSION }
      await client.publish(presenceTopic, encodeCbor(ready), { retain: true, qos: 1 })
    },

    emit (hook, data) {
      if (!declaredHooks.some(declared => declared === hook || matchTopic(declared, hook))) {
        throw new OutpostError('HOOK_UNDECLARED', `module ${env.module} emitted hook "${hook}" without declaring it (declared: ${declaredHooks.join(', ') || 'none'})`)
      }
      send(topics.hook(env.module, hook), { data, ts: epochMs(Date.now()), instance: env.instance }, tracer?.emit(hook))
    },

    call (module, method, args, options = {}) {
      return makeCall(module, method, args, options, false)
    },

    callRaw (module, method, args, options = {}) {
      return makeCall(module, method, args, options, true)
    },

    stop () {
      stopping ??= (async () => {
        const handlers = Promise.allSettled(stopHandlers.map(fn => Promise.resolve().then(fn)))
        const bounded = new Promise(resolve => setTimeout(resolve, STOP_HANDLERS_TIMEOUT_MS).unref())
        const results = await Promise.race([handlers, bounded])
        if (Array.isArray(results)) {
          for (const r of results) if (r.status === 'rejected') log.error('stop handler failed', { error: r.reason as Error })
        } else log.warn(`stop handlers did not finish within ${STOP_HANDLERS_TIMEOUT_MS} ms`)
        tracer?.flush()
        rawPending = 0
        for (const call of pending.drain()) {
          call.reject(new OutpostError('NOT_CONNECTED', `${call.module}.${call.method}: module ${env.module} is stopping`))
        }
        if (client !== undefined) {
          const offline: Presence = { state: 'offline' }
          await client.publish(topics.presence(env.module, env.instance), encodeCbor(offline), { retain: true, qos: 1 }).catch(() => {})
          await client.end()
        }
      })()
      return stopping
    },
  }
  return self
}
