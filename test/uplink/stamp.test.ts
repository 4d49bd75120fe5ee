// A stored hook's `seq` and `q` are spliced in front of its envelope's own entries (modules/uplink/topics.ts):
// the result must be the CBOR the codec would write for the whole map, at every width of `seq`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { seqStamp } from '../../modules/uplink/topics.js'

const q = '0123456789abcdef'
const envelope = { data: { celsius: 21.5 }, ts: 1_765_000_000_000, instance: 0 }

test('the stamped envelope is the codec\'s own encoding of {seq, q, ...envelope}, at each width of seq', () => {
  const stamp = seqStamp(q)
  for (const seq of [1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 1, Number.MAX_SAFE_INTEGER]) {
    const stamped = stamp(encodeCbor(envelope), seq)
    assert.deepEqual(stamped, encodeCbor({ seq, q, ...envelope }), `seq ${seq}`)
    assert.deepEqual(decodeCbor(stamped as Buffer), { seq, q, ...envelope })
  }
})

test('only a map of fewer than 22 entries is stamped (two more must still fit the one-byte head)', () => {
  const stamp = seqStamp(q)
  assert.equal(stamp(encodeCbor([1, 2]), 1), undefined)
  assert.equal(stamp(Buffer.alloc(0), 1), undefined)
  const entries = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
  assert.deepEqual(decodeCbor(stamp(encodeCbor(entries(21)), 7) as Buffer), { seq: 7, q, ...entries(21) })
  assert.equal(stamp(encodeCbor(entries(22)), 7), undefined)
})
