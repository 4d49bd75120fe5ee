// The chunked sorted list of the tracing store's index (modules/tracing/sorted.ts) against a sorted array,
// over random inserts and deletes, enough of them to split chunks and empty them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createSorted } from '../../modules/tracing/sorted.js'

test('a sorted list holds what a sorted array holds, read from either end, through inserts and deletes', () => {
  // mostly near the end (spans arriving nearly in time order), at times anywhere; deletes mostly of the least
  const op = fc.oneof(
    { weight: 3, arbitrary: fc.record({ insert: fc.constant(true), back: fc.oneof(fc.nat(3), fc.nat(5000)) }) },
    { weight: 2, arbitrary: fc.record({ insert: fc.constant(false), back: fc.oneof(fc.constant(-1), fc.nat(3000)) }) },
  )
  fc.assert(fc.property(fc.array(op, { minLength: 1000, maxLength: 3000, size: 'max' }), (ops) => {
    const sorted = createSorted<number>((a, b) => a - b)
    const reference: number[] = []
    for (const [i, { insert, back }] of ops.entries()) {
      if (insert) {
        // distinct: i in the low digits
        const item = (ops.length + i - back) * 10_000 + i
        sorted.insert(item)
        const at = reference.findIndex(x => x > item)
        reference.splice(at === -1 ? reference.length : at, 0, item)
      } else {
        const item = back === -1 ? reference[0] ?? 0 : (reference[back % Math.max(1, reference.length)] ?? 0) + (back % 2)
        const at = reference.indexOf(item)
        assert.equal(sorted.delete(item), at !== -1)
        if (at !== -1) reference.splice(at, 1)
      }
      assert.equal(sorted.size, reference.length)
      assert.equal(sorted.first(), reference[0])
      if (i % 500 === 0) assert.deepEqual([...sorted.descending()], [...reference].reverse())
    }
    assert.deepEqual([...sorted.descending()], [...reference].reverse())
  }), { seed: 20261206, numRuns: 30 })
})
