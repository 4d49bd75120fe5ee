// tracing module: collects the spans modules send on spans/<module>/<instance>, keeps them in a bounded
// store and serves them: rpc/tracing/list, show, stats (docs/observability.md, "Tracing"); optionally
// exports them to an OpenTelemetry collector (otlp.ts).
import { OutpostError, runModule } from '../../core/sdk/index.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { createOtlpExporter } from './otlp.js'
import { readBatch } from './spans.js'
import { createTraceStore } from './store.js'
import type { Config } from './schema.js'

const DEFAULT_LIST = 50
const MAX_LIST = 500
const TRACE_ID = /^[0-9a-f]{32}$/

function listArgs (args: unknown): { limit: number, module?: string, errorsOnly?: boolean } {
  const a = (args ?? {}) as Record<string, unknown>
  if (typeof a !== 'object' || Array.isArray(a)) throw new OutpostError('BAD_ARGUMENTS', 'list takes { limit?: uint, module?: text, errorsOnly?: bool }')
  if (a.limit !== undefined && (typeof a.limit !== 'number' || !Number.isInteger(a.limit) || a.limit < 0)) throw new OutpostError('BAD_ARGUMENTS', '"limit" must be an unsigned integer')
  if (a.module !== undefined && typeof a.module !== 'string') throw new OutpostError('BAD_ARGUMENTS', '"module" must be text')
  if (a.errorsOnly !== undefined && typeof a.errorsOnly !== 'boolean') throw new OutpostError('BAD_ARGUMENTS', '"errorsOnly" must be true or false')
  const out: { limit: number, module?: string, errorsOnly?: boolean } = { limit: Math.min(a.limit ?? DEFAULT_LIST, MAX_LIST) }
  if (a.module !== undefined) out.module = a.module
  if (a.errorsOnly !== undefined) out.errorsOnly = a.errorsOnly
  return out
}

runModule<Config>(async (m) => {
  const store = createTraceStore(m.config)
  const otlp = m.config.otlp === undefined ? undefined : createOtlpExporter(m.config.otlp, (message, fields) => m.log.warn(message, fields))
  const received = { batches: 0, spans: 0, malformedBatches: 0, malformedSpans: 0, droppedByModules: 0 }

  m.watch('spans/+/+', (topic, payload) => {
    // spans/<module>/<instance>: the broker let only that instance publish here
    const [, module = '', instanceText = ''] = topic.split('/')
    const instance = Number(instanceText)
    let batch
    try {
      batch = readBatch(decodeCbor(payload), module, instance)
    } catch {
      batch = null
    }
    if (batch === null) {
      received.malformedBatches++
      return
    }
    received.batches++
    received.malformedSpans += batch.malformed
    received.droppedByModules += batch.dropped
    for (const { trace, span } of batch.spans) {
      received.spans++
      if (store.add(trace, span)) otlp?.enqueue(trace, span)
    }
  })

  m.method('list', args => store.list(listArgs(args)))
  m.method('show', (args: unknown) => {
    const trace = (args as { trace?: unknown } | null)?.trace
    if (typeof trace !== 'string' || !TRACE_ID.test(trace)) throw new OutpostError('BAD_ARGUMENTS', 'show takes { trace: 32 lowercase hex digits }')
    const found = store.show(trace)
    if (found === undefined) throw new OutpostError('NOT_FOUND', `no trace ${trace} in the store (never sampled, not arrived yet, or evicted)`)
    return { trace, spans: found.spans, omitted: found.omitted }
  })
  m.method('stats', () => ({
    received,
    store: store.counters(),
    limits: { maxSpans: m.config.maxSpans, maxBytes: m.config.maxBytes, maxSpansPerTrace: m.config.maxSpansPerTrace },
    otlp: otlp?.counters() ?? null,
  }))
  m.onStop(() => otlp?.stop())
  await m.start()
  m.log.info(`keeping up to ${m.config.maxSpans} spans (${m.config.maxBytes} bytes)${m.config.otlp === undefined ? '' : `, exporting to ${m.config.otlp.url}`}`)
})
