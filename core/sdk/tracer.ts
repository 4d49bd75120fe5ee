// Query tracking in a module (docs/observability.md, "Tracing"): the trace context a request or hook came
// with is the current one while its handler runs (AsyncLocalStorage, so `call` and `emit` made from the
// handler, its awaits included, carry it on without any change to the module's code); where none came, the
// module starts a trace and decides there, once, whether it is sampled. Spans are recorded for sampled
// traces only, and sent in batches on `spans/<module>/<instance>`, where the tracing module collects them.
// An unsampled trace costs a property read per message and the three envelope keys: it records nothing and
// passes the context on as it came, with no new span ids.
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomFillSync } from 'node:crypto'
import { toErrorBody } from '../protocol/envelope.js'
import { SAMPLED, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../protocol/trace-context.js'
import type { TraceContext } from '../protocol/trace-context.js'

export type SpanKind = 'rpc-server' | 'rpc-client' | 'hook-emit' | 'hook-handle'

/** one span as it travels in a batch (docs/observability.md, "Spans on the bus") */
export interface SpanRecord {
  trace: Uint8Array
  span: Uint8Array
  parent: Uint8Array | null
  kind: SpanKind
  name: string
  /** start, µs since the Unix epoch (a CBOR integer) */
  start: bigint
  /** duration in µs */
  us: number
  /** the error code when the span failed, else null */
  code: string | null
}

/** what a span's end is told: null for success, else the error code */
export type EndSpan = (code: string | null) => void

/**
 * spans per batch message (≈ 400 bytes each at most: far below the module socket's packet limit), and the
 * most that wait in a module: the batch is sent when it is full, or FLUSH_MS after its first span
 */
export const SPANS_PER_BATCH = 128
export const FLUSH_MS = 1000

/**
 * Whether AsyncLocalStorage gives each callback of the event loop the frame of the resource it belongs to, and
 * restores the one before after it: Node 24's AsyncContextFrame, unless turned off. There a context entered in
 * one read from a socket is gone at the next, and leaving it at each read's end only costs a frame; on Node 20 the
 * entered store stays on the socket's resource, and must be left (test/tracing/current.test.ts runs on both).
 */
export const READS_START_CLEAN = Number(process.versions.node.split('.')[0]) >= 24 &&
  ![...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].includes('--no-async-context-frame')

export interface Tracer {
  /** runs a method handler with the context its request came with (or a new trace): returns what it returns */
  serve (name: string, received: TraceContext | undefined, invoke: () => unknown): unknown
  /** runs the listeners of one hook message (`hooks/<owner>/<hook>`) with the hook's context (or a new trace) */
  handle (owner: string, hook: string, received: TraceContext | undefined, run: () => void): void
  /** runs what handles a message outside any trace (a watch's handler): the context of the read's earlier messages is not its */
  outside (run: () => void): void
  /** leaves the context a read's last handler entered (at the end of each read, unless READS_START_CLEAN: on Node 20 it would stay on the socket) */
  leave (): void
  /** the context an outgoing request carries, and its span's end when the trace is sampled */
  call (module: string, method: string): { fields: TraceContext, end: EndSpan | undefined }
  /** the context an outgoing hook carries (its span is recorded at once) */
  emit (name: string): TraceContext
  /** sends what is buffered now (at stop) */
  flush (): void
  /** spans dropped since start (their batch was not taken: the connection was closed) */
  readonly dropped: number
}

export interface TracerOptions {
  /** probability that a trace started here is sampled, 0–1 */
  sampleRate: number
  /** publishes one batch; false when the connection did not take it */
  send (value: { spans: SpanRecord[], dropped: number }): boolean
  random?: () => number
}

// ids are cut from a pool of random bytes, refilled by a new buffer (ids already given out keep theirs)
let pool = Buffer.alloc(0)
let used = 0

function randomId (bytes: number): Uint8Array {
  for (;;) {
    if (used + bytes > pool.length) {
      pool = randomFillSync(Buffer.allocUnsafeSlow(4096))
      used = 0
    }
    const id = pool.subarray(used, used + bytes)
    used += bytes
    for (const byte of id) if (byte !== 0) return id // an all-zero id is invalid [W3C Trace Context § 3.2.2.3]
  }
}

function codeOf (err: unknown): string {
  return toErrorBody(err).code
}

export function createTracer (options: TracerOptions): Tracer {
  const { sampleRate, send } = options
  const random = options.random ?? Math.random
  /** the current context; its `parent` is the span that outgoing messages name as theirs */
  const current = new AsyncLocalStorage<TraceContext>()
  let buffered: SpanRecord[] = []
  let droppedSince = 0
  let droppedTotal = 0
  let timer: NodeJS.Timeout | undefined
  // what `call` gives for an unsampled context, made once for a handler's calls (they all carry its context)
  let unsampledCall: { fields: TraceContext, end: undefined } | undefined

  const flush = (): void => {
    clearTimeout(timer)
    timer = undefined
    if (buffered.length === 0) return
    const spans = buffered
    buffered = []
    if (send({ spans, dropped: droppedSince })) droppedSince = 0
    else {
      droppedSince += spans.length
      droppedTotal += spans.length
    }
  }

  const record = (span: SpanRecord): void => {
    buffered.push(span)
    if (buffered.length >= SPANS_PER_BATCH) flush()
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_MS)
      timer.unref()
    }
  }

  /**
   * starts a span of `trace` under `parent` (null: a root); returns its end. Start and duration come from
   * one monotonic clock (Date.now() was seen lagging it by several ms, which put a span's children before it)
   */
  const start = (trace: Uint8Array, span: Uint8Array, parent: Uint8Array | null, kind: SpanKind, name: string): EndSpan => {
    const t0 = performance.now()
    return code => record({ trace, span, parent, kind, name, start: BigInt(Math.round((performance.timeOrigin + t0) * 1000)), us: Math.round((performance.now() - t0) * 1000), code })
  }

  /** a new trace's context, sampled or not by this module's rate */
  const root = (): TraceContext => ({ trace: randomId(TRACE_ID_BYTES), parent: randomId(SPAN_ID_BYTES), flags: random() < sampleRate ? SAMPLED : 0 })

  /**
   * makes `context` the current one for the rest of this callback of the event loop, and for what it starts:
   * the caller of serve/handle/outside is the SDK's dispatch of one read from the broker, which sets the
   * context before each handler it runs and leaves it at the read's end (`leave`), so none is left to the next. Unlike `run`, which makes a frame for
   * the context and another to restore the one before (≈ 250 ns a request on Node 24), this makes none when
   * the context is current already: the requests of one trace (a handler's calls) come with the same
   * object (trace-context.ts decodeWithContext), and a run of them costs no frame at all.
   */
  const enter = (context: TraceContext | undefined): void => {
    if (current.getStore() !== context) current.enterWith(context as TraceContext)
  }

  /** runs `invoke` inside a new span of `context`'s trace, recording its outcome, sync or async */
  const within = (context: TraceContext, parent: Uint8Array | null, kind: SpanKind, name: string, invoke: () => unknown): unknown => {
    const span = randomId(SPAN_ID_BYTES)
    const end = start(context.trace, span, parent, kind, name)
    let result: unknown
    try {
      result = current.run({ trace: context.trace, parent: span, flags: context.flags }, invoke)
    } catch (err) {
      end(codeOf(err))
      throw err
    }
    if (result instanceof Promise) {
      return result.then(value => { end(null); return value }, (err: unknown) => { end(codeOf(err)); throw err })
    }
    end(null)
    return result
  }

  return {
    serve (name, received, invoke) {
      const context = received ?? root()
      if ((context.flags & SAMPLED) === 0) {
        enter(context)
        return invoke()
      }
      return within(context, received === undefined ? null : received.parent, 'rpc-server', name, invoke)
    },

    handle (owner, hook, received, run) {
      const context = received ?? root()
      // span names are built for sampled traces only
      if ((context.flags & SAMPLED) === 0) {
        enter(context)
        run()
      } else within(context, received === undefined ? null : received.parent, 'hook-handle', `${owner}/${hook}`, run)
    },

    outside (run) {
      enter(undefined)
      run()
    },

    leave () {
      enter(undefined)
    },

    call (module, method) {
      const active = current.getStore()
      const context = active ?? root()
      if ((context.flags & SAMPLED) === 0) {
        if (unsampledCall?.fields !== context) unsampledCall = { fields: context, end: undefined }
        return unsampledCall
      }
      const span = randomId(SPAN_ID_BYTES)
      return { fields: { trace: context.trace, parent: span, flags: context.flags }, end: start(context.trace, span, active === undefined ? null : context.parent, 'rpc-client', `${module}.${method}`) }
    },

    emit (name) {
      const active = current.getStore()
      const context = active ?? root()
      if ((context.flags & SAMPLED) === 0) return context
      const span = randomId(SPAN_ID_BYTES)
      start(context.trace, span, active === undefined ? null : context.parent, 'hook-emit', name)(null)
      return { trace: context.trace, parent: span, flags: context.flags }
    },

    flush,

    get dropped () {
      return droppedTotal
    },
  }
}
