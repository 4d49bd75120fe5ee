// The tracing module's store at its limits, and what it accepts of a batch (modules/tracing/store.ts, spans.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ANSWER_BYTES, createTraceStore, spanBytes } from '../../modules/tracing/store.js'
import type { StoredSpan } from '../../modules/tracing/store.js'
import { readBatch } from '../../modules/tracing/spans.js'
import { readTraceContext } from '../../core/protocol/trace-context.js'
import { createTracer } from '../../core/sdk/tracer.js'
import type { SpanRecord } from '../../core/sdk/tracer.js'
import { config } from '../../modules/tracing/schema.js'

function span (id: number, extra: Partial<StoredSpan> = {}): StoredSpan {
  // four modules take turns: one module holds at most half a trace and half the store
  return { span: id.toString(16).padStart(16, '0'), parent: null, module: `m${id % 4}`, instance: 0, kind: 'rpc-server', name: 'get', start: 1_700_000_000_000 + id, durationMs: 1, outcome: 'ok', code: null, ...extra }
}
const traceId = (n: number): string => n.toString(16).padStart(32, '0')

test('issue 13: the store holds maxSpans spans; one more evicts the oldest trace, counted', () => {
  const store = createTraceStore({ maxSpans: 100, maxBytes: 1 << 30, maxSpansPerTrace: 10 })
  for (let i = 1; i <= 100; i++) assert.equal(store.add(traceId(i), span(i)), true)
  assert.equal(store.counters().spans, 100)
  assert.equal(store.counters().evictedTraces, 0)
  store.add(traceId(101), span(101))
  assert.deepEqual({ ...store.counters(), bytes: 0 }, { traces: 100, spans: 100, bytes: 0, added: 101, evictedTraces: 1, evictedSpans: 1, droppedOverTraceLimit: 0, droppedOverModuleShare: 0 })
  assert.equal(store.show(traceId(1)), undefined, 'the oldest went')
  assert.ok(store.show(traceId(2)) !== undefined)
  // newest first, limited
  assert.deepEqual(store.list({ limit: 3 }).map(t => t.trace), [traceId(101), traceId(100), traceId(99)])
})

test('issue 13: the store holds maxBytes (estimated); past it the oldest traces go', () => {
  const cost = spanBytes(span(1))
  const store = createTraceStore({ maxSpans: 10_000, maxBytes: cost * 5, maxSpansPerTrace: 10 })
  for (let i = 1; i <= 5; i++) store.add(traceId(i), span(i))
  assert.equal(store.counters().bytes, cost * 5)
  assert.equal(store.counters().traces, 5)
  store.add(traceId(6), span(6))
  assert.equal(store.counters().bytes, cost * 5)
  assert.equal(store.counters().evictedTraces, 1)
  assert.equal(store.show(traceId(1)), undefined)
})

test('issue 13: one trace keeps at most maxSpansPerTrace spans (and never more than maxBytes); the rest are dropped and counted', () => {
  const store = createTraceStore({ maxSpans: 100, maxBytes: 1 << 30, maxSpansPerTrace: 10 })
  for (let i = 1; i <= 10; i++) assert.equal(store.add(traceId(1), span(i, { parent: i === 1 ? null : span(1).span })), true)
  assert.equal(store.add(traceId(1), span(11)), false)
  assert.equal(store.counters().droppedOverTraceLimit, 1)
  assert.equal(store.show(traceId(1))?.spans.length, 10)
  const small = createTraceStore({ maxSpans: 100, maxBytes: spanBytes(span(1)) * 2, maxSpansPerTrace: 10 })
  small.add(traceId(1), span(1))
  small.add(traceId(1), span(2))
  assert.equal(small.add(traceId(1), span(3)), false)
  assert.equal(small.counters().spans, 2)
  // the schema keeps maxSpansPerTrace within maxSpans, so the newest trace always fits
  assert.equal(config.safeParse({ maxSpans: 100, maxSpansPerTrace: 101 }).success, false)
  assert.deepEqual(config.parse({}), { maxSpans: 10_000, maxBytes: 4 * 1024 * 1024, maxSpansPerTrace: 1000 })
})

test('review: one module holds at most half of a trace and half of the store: it can neither crowd a trace\'s spans out nor flush the store', () => {
  const store = createTraceStore({ maxSpans: 100, maxBytes: 1 << 30, maxSpansPerTrace: 10 })
  // a module adding spans to a trace it did not start: 5 of 10 kept, the rest dropped and counted
  for (let i = 1; i <= 8; i++) store.add(traceId(1), span(100 + i, { module: 'evil' }))
  assert.equal(store.show(traceId(1))?.spans.length, 5)
  assert.equal(store.counters().droppedOverModuleShare, 3)
  // the trace's own spans still fit
  for (let i = 1; i <= 5; i++) assert.equal(store.add(traceId(1), span(i * 4, { module: 'real' })), true)
  assert.equal(store.show(traceId(1))?.spans.filter(s => s.module === 'real').length, 5)
  // across traces: evil holds at most 50 of 100 spans, so the others' traces stay
  for (let i = 1; i <= 40; i++) store.add(traceId(1000 + i), span(1000 + i, { module: 'real' }))
  for (let t = 2; t <= 200; t++) store.add(traceId(t), span(t, { module: 'evil' }))
  const held = (module: string): number => store.list({ limit: 500 }).reduce((n, s) => n + (store.show(s.trace)?.spans.filter(x => x.module === module).length ?? 0), 0)
  assert.equal(held('evil'), 50)
  assert.equal(held('real'), 45, 'every span of the other module is kept')
  // once evicted, a module's share is free again
  const small = createTraceStore({ maxSpans: 100, maxBytes: 1 << 30, maxSpansPerTrace: 10 })
  for (let t = 1; t <= 200; t++) small.add(traceId(t), span(t, { module: t <= 50 ? 'evil' : `m${t % 4}` }))
  assert.equal(small.add(traceId(999), span(999, { module: 'evil' })), true, 'the oldest (evil) traces were evicted by the others, so evil may add again')
})

test('review 2: the module shares count bytes too: few long spans cannot flush the store where many short ones could not', () => {
  const long = { name: 'x'.repeat(300), code: 'E'.repeat(64), outcome: 'error' as const }
  const cost = spanBytes(span(1, { module: 'evil', ...long }))
  const store = createTraceStore({ maxSpans: 10_000, maxBytes: cost * 100, maxSpansPerTrace: 1000 })
  for (let i = 1; i <= 40; i++) store.add(traceId(1000 + i), span(1000 + i, { module: 'real' }))
  // far fewer spans than half of maxSpans, far more bytes than half of maxBytes
  for (let t = 1; t <= 300; t++) store.add(traceId(t), span(t, { module: 'evil', ...long }))
  const held = (module: string): number => store.list({ limit: 5000 }).reduce((n, s) => n + (store.show(s.trace)?.spans.filter(x => x.module === module).length ?? 0), 0)
  assert.equal(held('real'), 40, 'every span of the other module is kept')
  assert.equal(held('evil'), 50, 'half of maxBytes')
  assert.equal(store.counters().droppedOverModuleShare, 250)
  // within one trace, too
  const one = createTraceStore({ maxSpans: 10_000, maxBytes: cost * 10, maxSpansPerTrace: 1000 })
  for (let i = 1; i <= 8; i++) one.add(traceId(1), span(i, { module: 'evil', ...long }))
  assert.equal(one.show(traceId(1))?.spans.length, 5)
  assert.equal(one.add(traceId(1), span(99, { module: 'real', ...long })), true, 'the trace\'s own spans still fit')
})

test('issue 13: a trace\'s summary: its root, its extent, its first error; list filters by module and errors', () => {
  const store = createTraceStore({ maxSpans: 100, maxBytes: 1 << 30, maxSpansPerTrace: 10 })
  const root = span(1, { module: 'a', name: 'go', durationMs: 10 })
  store.add(traceId(1), span(2, { module: 'b', parent: root.span, durationMs: 20, start: root.start + 5, outcome: 'error', code: 'TIMEOUT', name: 'b.slow', kind: 'rpc-client' }))
  store.add(traceId(1), root)
  store.add(traceId(2), span(3, { module: 'c', name: 'other' }))
  assert.deepEqual(store.list({ limit: 50, module: 'b' }), [{ trace: traceId(1), root: { module: 'a', method: 'go' }, start: root.start, durationMs: 25, spans: 2, error: 'TIMEOUT' }])
  assert.deepEqual(store.list({ limit: 50, errorsOnly: true }).map(t => t.trace), [traceId(1)])
  assert.deepEqual(store.list({ limit: 50 }).map(t => t.trace), [traceId(2), traceId(1)])
  // show: by start
  assert.deepEqual(store.show(traceId(1))?.spans.map(s => s.name), ['go', 'b.slow'])
})

test('issue 13: a batch is read span by span: malformed spans are skipped and counted, module and instance are the topic\'s', () => {
  const good = { trace: Buffer.alloc(16, 1), span: Buffer.alloc(8, 2), parent: Buffer.alloc(8, 3), kind: 'hook-emit', name: 'reading', start: 1_700_000_000_000_250, us: 1500, code: null, module: 'forged' }
  const batch = readBatch({
    spans: [
      good,
      { ...good, trace: Buffer.alloc(15, 1) },
      { ...good, span: Buffer.alloc(8, 0) },
      { ...good, parent: 'abc' },
      { ...good, kind: 'other' },
      { ...good, name: 'x'.repeat(301) },
      { ...good, start: -1 },
      { ...good, us: 1.5 },
      { ...good, code: 42 },
      { ...good, name: 'line\nbreak' },
      null,
      'text',
    ],
    dropped: 3,
  }, 'sensor', 2)
  assert.ok(batch !== null)
  assert.equal(batch.malformed, 11)
  assert.equal(batch.dropped, 3)
  assert.deepEqual(batch.spans, [{
    trace: '01'.repeat(16),
    span: { span: '02'.repeat(8), parent: '03'.repeat(8), module: 'sensor', instance: 2, kind: 'hook-emit', name: 'reading', start: 1_700_000_000_000.25, durationMs: 1.5, outcome: 'ok', code: null },
  }])
  assert.equal(readBatch([1, 2], 'sensor', 0), null)
  assert.equal(readBatch({ spans: 'no' }, 'sensor', 0), null)
})

test('issue 13: trace context is read as W3C says: exact lengths, not all zero, flags 0–255; hex text only from JSON', () => {
  const trace = Buffer.alloc(16, 0xab)
  const parent = Buffer.alloc(8, 0xcd)
  assert.deepEqual(readTraceContext({ trace, parent, flags: 1 }, false), { trace: new Uint8Array(trace), parent: new Uint8Array(parent), flags: 1 }, 'the ids copied')
  assert.equal(readTraceContext({}, false), undefined)
  assert.equal(readTraceContext({ trace, parent }, false), undefined, 'flags are required')
  assert.equal(readTraceContext({ trace, parent: Buffer.alloc(9, 1), flags: 0 }, false), undefined)
  assert.equal(readTraceContext({ trace: 'ab'.repeat(16), parent: 'cd'.repeat(8), flags: 1 }, false), undefined)
  assert.deepEqual(readTraceContext({ trace: 'ab'.repeat(16), parent: 'cd'.repeat(8), flags: 1 }, true), { trace, parent, flags: 1 })
  assert.equal(readTraceContext({ trace: 'AB'.repeat(16), parent: 'cd'.repeat(8), flags: 1 }, true), undefined, 'upper case is invalid in a traceparent')
  assert.equal(readTraceContext({ trace: '00'.repeat(16), parent: 'cd'.repeat(8), flags: 1 }, true), undefined)
})

test('issue 13: a module holds at most SPANS_PER_BATCH spans: a full batch is sent at once, one the connection does not take is dropped and counted', async () => {
  const sent: Array<{ spans: SpanRecord[], dropped: number }> = []
  let accept = false
  const tracer = createTracer({ sampleRate: 1, send: batch => { if (accept) sent.push(batch); return accept } })
  // 200 sampled roots: each batch of 128 is refused (a connection gone), so those spans are dropped
  for (let i = 0; i < 200; i++) tracer.serve('get', undefined, () => i)
  assert.equal(tracer.dropped, 128)
  accept = true
  tracer.flush()
  assert.equal(sent.length, 1)
  assert.equal(sent[0]?.spans.length, 72)
  assert.equal(sent[0]?.dropped, 128, 'the next batch says how many were lost')
  // an unsampled root records nothing
  const quiet = createTracer({ sampleRate: 0, send: batch => { sent.push(batch); return true } })
  for (let i = 0; i < 10; i++) quiet.serve('get', undefined, () => i)
  quiet.flush()
  assert.equal(sent.length, 1)
})

test('issue 13: an answer of show or list stays within ANSWER_BYTES as JSON, so it fits the module socket\'s 256 KiB packets; show counts what it left out', () => {
  const store = createTraceStore({ maxSpans: 10_000, maxBytes: 1 << 30, maxSpansPerTrace: 1000 })
  const long = 'é'.repeat(300) // the longest name a span may have, two bytes a character
  for (let i = 1; i <= 1000; i++) store.add(traceId(1), span(i, { name: long, module: `${i % 2 === 0 ? 'a' : 'b'}`.repeat(32), code: 'E'.repeat(64), outcome: 'error' }))
  const shown = store.show(traceId(1))
  assert.ok(shown !== undefined && shown.omitted > 0)
  assert.equal(shown.spans.length + shown.omitted, 1000)
  assert.ok(Buffer.byteLength(JSON.stringify({ trace: traceId(1), spans: shown.spans, omitted: shown.omitted })) <= ANSWER_BYTES)
  for (let i = 2; i <= 600; i++) store.add(traceId(i), span(1000 + i, { name: long, code: 'E'.repeat(64), outcome: 'error' }))
  const listed = store.list({ limit: 500 })
  assert.ok(listed.length < 500 && listed.length > 0)
  assert.ok(Buffer.byteLength(JSON.stringify(listed)) <= ANSWER_BYTES)
  // a short trace is shown whole
  assert.deepEqual(store.show(traceId(2))?.omitted, 0)
})
