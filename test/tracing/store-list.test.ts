// The store's indexed list answers exactly as the scanning one it replaced (reference-store.ts), over random
// sequences of adds (which evict and drop) and queries: traces re-created after eviction, spans arriving out
// of order and before their parents, ties in start, errors, several modules, answers cut by ANSWER_BYTES.
// A failure prints fast-check's seed and path; rerun one with STORE_SEED=<seed>.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createTraceStore } from '../../modules/tracing/store.js'
import type { StoreLimits, StoredSpan, TraceStore } from '../../modules/tracing/store.js'
import { createReferenceStore } from './reference-store.js'

const SEED = Number(process.env.STORE_SEED ?? 20261206)

type Op =
  | { op: 'add', trace: number, span: number, parent: number | null, module: string, back: number, durationMs: number, code: string | null, long: boolean }
  | { op: 'list', limit: number, module: string | undefined, errorsOnly: boolean | undefined }
  | { op: 'show', trace: number }

interface Pools {
  /** how many trace ids and span ids the ops draw from: few, so that traces grow, get evicted and come back */
  traces: number
  spans: number
  maxLimit: number
  /** how often a span has the longest name, so that answers hit ANSWER_BYTES */
  longWeight: number
}

const MODULES = ['a', 'b', 'c', 'd']

function ops (pools: Pools, maxLength: number): fc.Arbitrary<Op[]> {
  const add = fc.record({
    op: fc.constant('add' as const),
    trace: fc.nat(pools.traces - 1),
    span: fc.nat(pools.spans - 1),
    parent: fc.option(fc.nat(pools.spans - 1), { freq: 3 }),
    module: fc.constantFrom(...MODULES),
    // how far before the clock the span starts: mostly near it (spans arrive nearly in time order), at times far
    back: fc.oneof({ weight: 4, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: fc.nat(200) }),
    durationMs: fc.nat(20),
    code: fc.option(fc.constantFrom('TIMEOUT', 'E'), { freq: 4 }),
    long: fc.oneof({ weight: pools.longWeight, arbitrary: fc.constant(true) }, { weight: 10, arbitrary: fc.constant(false) }),
  })
  const list = fc.record({
    op: fc.constant('list' as const),
    limit: fc.nat(pools.maxLimit),
    module: fc.option(fc.constantFrom(...MODULES, 'z'), { nil: undefined }),
    errorsOnly: fc.option(fc.boolean(), { nil: undefined }),
  })
  const show = fc.record({ op: fc.constant('show' as const), trace: fc.nat(pools.traces - 1) })
  return fc.array(fc.oneof({ weight: 12, arbitrary: add }, { weight: 3, arbitrary: list }, { weight: 1, arbitrary: show }), { minLength: maxLength / 2, maxLength, size: 'max' })
}

const limits: fc.Arbitrary<StoreLimits> = fc.record({ maxSpans: fc.integer({ min: 2, max: 150 }), perTrace: fc.integer({ min: 1, max: 40 }), maxBytes: fc.oneof(fc.constant(1 << 30), fc.integer({ min: 300, max: 12_000 })) })
  .map(({ maxSpans, perTrace, maxBytes }) => ({ maxSpans, maxBytes, maxSpansPerTrace: Math.min(perTrace, maxSpans) }))

const traceId = (n: number): string => n.toString(16).padStart(32, '0')
const spanId = (n: number): string => n.toString(16).padStart(16, '0')

/** runs `sequence` on both stores, comparing every answer */
function same (store: TraceStore, reference: TraceStore, sequence: Op[]): void {
  for (const [i, o] of sequence.entries()) {
    if (o.op === 'add') {
      // the clock moves by a quarter of a ms per op, so starts tie and go back
      const span: StoredSpan = { span: spanId(o.span), parent: o.parent === null ? null : spanId(o.parent), module: o.module, instance: 0, kind: 'rpc-server', name: o.long ? 'é'.repeat(300) : 'get', start: Math.max(0, i - o.back) / 4, durationMs: o.durationMs, outcome: o.code === null ? 'ok' : 'error', code: o.code }
      assert.equal(store.add(traceId(o.trace), { ...span }), reference.add(traceId(o.trace), span), `op ${i}: add`)
    } else if (o.op === 'list') {
      const options = { limit: o.limit, ...(o.module === undefined ? {} : { module: o.module }), ...(o.errorsOnly === undefined ? {} : { errorsOnly: o.errorsOnly }) }
      assert.deepEqual(store.list(options), reference.list(options), `op ${i}: list ${JSON.stringify(options)}`)
    } else assert.deepEqual(store.show(traceId(o.trace)), reference.show(traceId(o.trace)), `op ${i}: show`)
  }
  assert.deepEqual(store.counters(), reference.counters())
}

test('the indexed list answers as the scanning one: small stores, traces evicted and re-created, spans out of order', () => {
  fc.assert(fc.property(limits, ops({ traces: 12, spans: 24, maxLimit: 30, longWeight: 0 }, 400), (l, sequence) => {
    same(createTraceStore(l), createReferenceStore(l), sequence)
  }), { seed: SEED, numRuns: 300 })
})

test('the indexed list answers as the scanning one: answers cut at ANSWER_BYTES', () => {
  const large: StoreLimits = { maxSpans: 400, maxBytes: 1 << 30, maxSpansPerTrace: 20 }
  fc.assert(fc.property(ops({ traces: 500, spans: 1000, maxLimit: 500, longWeight: 10 }, 2000), (sequence) => {
    same(createTraceStore(large), createReferenceStore(large), sequence)
  }), { seed: SEED, numRuns: 20 })
})
