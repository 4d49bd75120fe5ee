// The trace context's three envelope keys as the SDK writes and reads them (core/protocol/trace-context.ts):
// written by hand after the envelope's own keys, read from the bytes when they end the map, and otherwise
// from the decoded keys as before. The bytes are what cbor-x writes, so any CBOR library reads them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { encodePublish } from '../../core/protocol/mqtt-publish.js'
import { contextEntries, decodeWithContext, encodeBeforeContext } from '../../core/protocol/trace-context.js'
import type { TraceContext } from '../../core/protocol/trace-context.js'

const trace = Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex')
const parent = Buffer.from('00f067aa0ba902b7', 'hex')
const request = { id: 7, reply: 'reply/caller.0', timeout: 5000, from: 'caller.0', args: { sensor: '28-00000a1b2c3d', celsius: 21.5, raw: Buffer.from([1, 2, 3]) } }
const hook = { data: { celsius: 21.5 }, ts: 1_700_000_000_000n, instance: 0 }

/** an envelope and its context as the SDK sends them, one after the other in one PUBLISH */
function encodeWithContext (envelope: Record<string, unknown>, context: TraceContext): Buffer {
  return Buffer.concat([encodeBeforeContext(envelope), contextEntries(context)])
}

/** the context as hex text and flags, for comparing */
function plain (context: TraceContext | undefined): unknown {
  return context === undefined ? undefined : { trace: Buffer.from(context.trace).toString('hex'), parent: Buffer.from(context.parent).toString('hex'), flags: context.flags }
}

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

test('issue 13: context that ends the map is read from the bytes and left out of the envelope; the payload is unchanged', () => {
  for (const flags of [0, 1, 24, 255]) {
    const bytes = encodeWithContext(request, { trace, parent, flags })
    const copy = Buffer.from(bytes)
    const { envelope, context } = decodeWithContext(bytes, 'cbor')
    assert.deepEqual(envelope, decodeCbor(encodeCbor(request)))
    assert.ok(Buffer.isBuffer((envelope as typeof request).args.raw), 'byte strings of the envelope are Buffers as decodeCbor gives them')
    assert.deepEqual(plain(context), { trace: trace.toString('hex'), parent: parent.toString('hex'), flags })
    assert.ok(bytes.equals(copy), 'the header written back')
  }
  // a map of 23 entries in all (the largest with a one-byte header) and one of 24 (a two-byte header: decoded whole)
  for (const n of [20, 21]) {
    const envelope = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
    const decoded = decodeWithContext(encodeCbor({ ...envelope, trace, parent, flags: 1 }), 'cbor')
    assert.deepEqual(plain(decoded.context), { trace: trace.toString('hex'), parent: parent.toString('hex'), flags: 1 }, `${n + 3} entries`)
    if (n === 20) assert.deepEqual(decoded.envelope, envelope)
  }
})

test('issue 13: context elsewhere in the map, or a byte string that ends with the same bytes, is read from the decoded keys', () => {
  const first = encodeCbor({ trace, parent, flags: 1, ...request })
  const read = decodeWithContext(first, 'cbor').context
  assert.deepEqual(plain(read), { trace: trace.toString('hex'), parent: parent.toString('hex'), flags: 1 })
  // its ids are copies: the context outlives the request (the SDK keeps the last one it wrote), the packet must not
  assert.notEqual(read?.trace.buffer, first.buffer)
  assert.notEqual(read?.parent.buffer, first.buffer)
  // the last value a byte string whose last 46 bytes are the three entries: not entries of the map
  const tail = encodeWithContext({}, { trace, parent, flags: 1 }).subarray(1)
  const lookalike = { id: 1, reply: 'reply/x.0', args: null, blob: Buffer.concat([Buffer.from('abc'), tail]) }
  const decoded = decodeWithContext(encodeCbor(lookalike), 'cbor')
  assert.deepEqual(decoded.envelope, decodeCbor(encodeCbor(lookalike)))
  assert.equal(decoded.context, undefined)
})

test('issue 13: invalid context is ignored, not an error: all-zero ids, and what readTraceContext refuses', () => {
  const zero = decodeWithContext(encodeWithContext(request, { trace: Buffer.alloc(16), parent, flags: 1 }), 'cbor')
  assert.equal(zero.context, undefined)
  assert.deepEqual(zero.envelope, decodeCbor(encodeCbor(request)))
  assert.equal(decodeWithContext(encodeWithContext(request, { trace, parent: Buffer.alloc(8), flags: 1 }), 'cbor').context, undefined)
  assert.equal(decodeWithContext(encodeCbor({ ...request, trace: trace.subarray(1), parent, flags: 1 }), 'cbor').context, undefined)
  assert.equal(decodeWithContext(encodeCbor(request), 'cbor').context, undefined)
  const json = decodeWithContext(Buffer.from(JSON.stringify({ id: 1, reply: 'reply/x', trace: trace.toString('hex'), parent: parent.toString('hex'), flags: 1 })), 'json')
  assert.deepEqual(plain(json.context), { trace: trace.toString('hex'), parent: parent.toString('hex'), flags: 1 })
})

test('issue 13: a malformed envelope that ends like one with context fails as decodeCbor fails', () => {
  const bytes = encodeWithContext(request, { trace, parent, flags: 1 })
  bytes[0] = 0xa0 + 9 // one entry more than there is: truncated
  const copy = Buffer.from(bytes)
  assert.throws(() => decodeWithContext(bytes, 'cbor'), (err: Error & { code?: string }) => err.code === 'BAD_REQUEST')
  assert.ok(bytes.equals(copy))
  // nested beyond the depth limit before the context
  let deep: unknown = 1
  for (let i = 0; i < 70; i++) deep = [deep]
  assert.throws(() => decodeWithContext(encodeWithContext({ id: 1, args: deep }, { trace, parent, flags: 0 }), 'cbor'), /nested deeper than 64/)
})

test('issue 13: the requests of one trace get one context object, its ids copied out of the packet; another trace, another object', () => {
  const bytes = encodeWithContext(request, { trace, parent, flags: 0 })
  const first = decodeWithContext(Buffer.from(bytes), 'cbor').context
  const again = decodeWithContext(Buffer.from(bytes), 'cbor').context
  assert.ok(first !== undefined && first === again, 'the same object for the same trace, parent and flags')
  const packet = Buffer.from(bytes)
  const held = decodeWithContext(packet, 'cbor').context
  packet.fill(0xee) // a reader's buffer is reused: the context must not be a view of it
  assert.deepEqual(plain(held), { trace: trace.toString('hex'), parent: parent.toString('hex'), flags: 0 })
  const otherParent = Buffer.from('00f067aa0ba902b8', 'hex')
  for (const other of [{ trace, parent: otherParent, flags: 0 }, { trace, parent, flags: 1 }, { trace: Buffer.from(trace).reverse(), parent, flags: 0 }]) {
    const read = decodeWithContext(encodeWithContext(request, other), 'cbor').context
    assert.ok(read !== first, 'a different context is a different object')
    assert.deepEqual(plain(read), plain(other))
  }
})

test('issue 13: the SDK sends an envelope and its context in one PUBLISH, with no buffer of their own: what it sends is one CBOR map, and earlier encodings are left as they were', () => {
  const earlier = encodeCbor(hook)
  const copy = Buffer.from(earlier)
  const head = encodeBeforeContext(request)
  const tail = contextEntries({ trace, parent, flags: 1 })
  assert.deepEqual(earlier, copy, 'encodeBeforeContext changes only the buffer it returns')
  const frame = encodePublish('rpc/echo/ping', head, false, 0, 0, tail)
  assert.deepEqual(frame, encodePublish('rpc/echo/ping', Buffer.concat([head, tail]), false, 0, 0), 'the tail is more of the payload, in the packet\'s length too')
  const payload = frame.subarray(frame.length - head.length - tail.length)
  assert.deepEqual(decodeCbor(payload), { ...request, trace, parent, flags: 1 })
})

test('issue 13: the entries of one context are written once (a handler\'s calls all carry it); another context gets its own', () => {
  const context = { trace, parent, flags: 0 }
  const first = contextEntries(context)
  assert.equal(contextEntries(context), first, 'the same bytes again')
  const otherParent = Buffer.from('00f067aa0ba902b8', 'hex')
  const other = contextEntries({ trace, parent: otherParent, flags: 0 })
  assert.notEqual(other, first)
  assert.deepEqual(decodeCbor(Buffer.concat([Buffer.from([0xa3]), other])), { trace, parent: otherParent, flags: 0 }, 'with its own parent')
  assert.deepEqual(contextEntries({ trace, parent, flags: 0 }), first, 'an equal context written anew is the same bytes')
})
