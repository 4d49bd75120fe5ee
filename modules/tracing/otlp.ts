// OTLP/HTTP JSON export (OpenTelemetry protocol, "OTLP/HTTP" with the JSON encoding: a POST of an
// ExportTraceServiceRequest to <collector>/v1/traces; ids are hex, 64-bit times decimal strings, enums
// integers: https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). Spans wait in a bounded queue
// (the oldest dropped and counted past it); one POST at a time, every intervalMs; a failed POST puts its
// spans back at the front, so they are retried on the next tick unless the queue overflows meanwhile.
import type { StoredSpan } from './store.js'

export interface OtlpOptions {
  url: string
  headers: Record<string, string>
  intervalMs: number
  maxQueue: number
  batchSpans: number
  timeoutMs: number
}

export interface OtlpCounters {
  queued: number
  exported: number
  failedPosts: number
  droppedFromQueue: number
  lastError: string | null
}

export interface OtlpExporter {
  enqueue (trace: string, span: StoredSpan): void
  counters (): OtlpCounters
  stop (): Promise<void>
}

// SpanKind and StatusCode of opentelemetry/proto/trace/v1/trace.proto
const KIND = { 'rpc-server': 2, 'rpc-client': 3, 'hook-emit': 4, 'hook-handle': 5 } as const
const STATUS_OK = 1
const STATUS_ERROR = 2

const str = (key: string, value: string): { key: string, value: { stringValue: string } } => ({ key, value: { stringValue: value } })

/** The ExportTraceServiceRequest for these spans: one resource per module instance. */
export function otlpRequest (spans: Array<{ trace: string, span: StoredSpan }>): unknown {
  const byInstance = new Map<string, Array<{ trace: string, span: StoredSpan }>>()
  for (const item of spans) {
    const key = `${item.span.module}.${item.span.instance}`
    const list = byInstance.get(key)
    if (list === undefined) byInstance.set(key, [item])
    else list.push(item)
  }
  return {
    resourceSpans: [...byInstance].map(([clientId, items]) => ({
      resource: { attributes: [str('service.name', items[0]?.span.module ?? ''), str('service.instance.id', clientId)] },
      scopeSpans: [{
        scope: { name: 'outpost' },
        spans: items.map(({ trace, span }) => {
          const startNs = BigInt(Math.round(span.start * 1000)) * 1000n
          const out: Record<string, unknown> = {
            traceId: trace,
            spanId: span.span,
            name: span.name,
            kind: KIND[span.kind],
            startTimeUnixNano: startNs.toString(),
            endTimeUnixNano: (startNs + BigInt(Math.round(span.durationMs * 1000)) * 1000n).toString(),
            attributes: [str('outpost.kind', span.kind), str('outpost.module', span.module), { key: 'outpost.instance', value: { intValue: String(span.instance) } }],
            status: span.code === null ? { code: STATUS_OK } : { code: STATUS_ERROR, message: span.code },
          }
          if (span.parent !== null) out.parentSpanId = span.parent
          return out
        }),
      }],
    })),
  }
}

export function createOtlpExporter (options: OtlpOptions, warn: (message: string, fields: Record<string, unknown>) => void): OtlpExporter {
  let queue: Array<{ trace: string, span: StoredSpan }> = []
  const counters = { exported: 0, failedPosts: 0, droppedFromQueue: 0, lastError: null as string | null }
  let posting: Promise<void> | undefined
  let failing = false

  const post = async (): Promise<void> => {
    const batch = queue.slice(0, options.batchSpans)
    queue = queue.slice(batch.length)
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { ...options.headers, 'content-type': 'application/json' },
        body: JSON.stringify(otlpRequest(batch)),
        signal: AbortSignal.timeout(options.timeoutMs),
      })
      await response.arrayBuffer().catch(() => {}) // read it all, so the connection can be reused
      if (!response.ok) throw new Error(`the collector answered ${response.status} ${response.statusText}`)
      counters.exported += batch.length
      if (failing) warn('OTLP export works again', { url: options.url })
      failing = false
    } catch (err) {
      counters.failedPosts++
      counters.lastError = (err as Error).message
      if (!failing) warn('OTLP export failed; the spans are kept for the next attempt', { url: options.url, error: counters.lastError })
      failing = true
      queue = batch.concat(queue)
      trim()
    }
  }

  const trim = (): void => {
    if (queue.length <= options.maxQueue) return
    const over = queue.length - options.maxQueue
    queue.splice(0, over)
    counters.droppedFromQueue += over
  }

  const timer = setInterval(() => {
    if (posting !== undefined || queue.length === 0) return
    posting = post().finally(() => { posting = undefined })
  }, options.intervalMs)

  return {
    enqueue (trace, span) {
      queue.push({ trace, span })
      trim()
    },
    counters () {
      return { queued: queue.length, ...counters }
    },
    async stop () {
      clearInterval(timer)
      await posting
    },
  }
}
