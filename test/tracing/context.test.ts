// The trace context's three envelope keys as the SDK writes them (core/protocol/trace-context.ts): by hand,
// after the envelope's own keys. The bytes are what cbor-x writes, so any CBOR library reads them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeCbor } from '../../core/protocol/codec.js'
import { encodeWithContext } from '../../core/protocol/trace-context.js'

const trace = Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex')
const parent = Buffer.from('00f067aa0ba902b7', 'hex')
const request = { id: 7, reply: 'reply/caller.0', timeout: 5000, from: 'caller.0', args: { sensor: '28-00000a1b2c3d', celsius: 21.5, raw: Buffer.from([1, 2, 3]) } }
const hook = { data: { celsius: 21.5 }, ts: 1_700_000_000_000n, instance: 0 }

test('issue 13: the context is written after the envelope\'s keys, byte for byte as cbor-x writes them, flags of one byte and of two', () => {
  for (const flags of [0, 1, 23, 24, 255]) {
    for (const envelope of [request, hook, {}]) {
      assert.deepEqual(encodeWithContext(envelope, { trace, parent, flags }), encodeCbor({ ...envelope, trace, parent, flags }), `flags ${flags}`)
    }
  }
})

test('issue 13: an envelope of 20 entries takes the context (23 in all, a header of one byte); one of 21 is refused', () => {
  const entries = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
  assert.deepEqual(encodeWithContext(entries(20), { trace, parent, flags: 1 }), encodeCbor({ ...entries(20), trace, parent, flags: 1 }))
  assert.throws(() => encodeWithContext(entries(21), { trace, parent, flags: 1 }), /fewer than 21 entries/)
})
