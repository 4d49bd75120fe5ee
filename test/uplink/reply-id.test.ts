// The uplink passes a module's reply up as it came, with only its top-level id replaced by the fleet
// operator's (modules/uplink/reply-id.ts): every other byte of a CBOR reply is kept, whatever the widths and
// types of the two ids and wherever the id lies in the map; JSON is decoded and encoded again; what is not a
// map with an id, ending where the bytes do, is refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { withReplyId as pieces } from '../../modules/uplink/reply-id.js'
import type { WireFormat } from '../../core/protocol/codec.js'
import type { CorrelationId } from '../../core/protocol/envelope.js'

/** the reply as it goes up: its pieces one after the other */
function withReplyId (reply: Buffer, id: CorrelationId, format: WireFormat): Buffer | null {
  const parts = pieces(reply, id, format)
  return parts === null ? null : Buffer.concat(parts)
}

const text = (s: string): Buffer => encodeCbor(s)
/** a CBOR map of the given entries, each key and value already encoded, with a definite length */
const map = (...entries: Buffer[][]): Buffer => Buffer.concat([Buffer.from([0xa0 + entries.length]), ...entries.flat()])
// a result cbor-x would not write back the same: a float 1.0 kept as a half float, and a long text
const RESULT = Buffer.concat([Buffer.from([0xa2]), text('ratio'), Buffer.from([0xf9, 0x3c, 0x00]), text('lines'), text('L'.repeat(70_000))])
const ERROR = encodeCbor({ code: 'NOT_AUTHORISED', message: 'fleet operator bob is a viewer' })

test('a CBOR id of every width and type is replaced, and nothing else changes', () => {
  const ids: Array<number | bigint | string> = [0, 23, 24, 255, 256, 65_535, 65_536, 0xffff_ffff, 2n ** 32n, 2n ** 64n - 1n, 'x', 'op-token-7', 'é'.repeat(60)]
  for (const from of ids) {
    for (const to of ids) {
      const before = [text('id'), encodeCbor(from)]
      const after = [text('id'), encodeCbor(to)]
      const reply = map(before, [text('result'), RESULT])
      assert.deepEqual(withReplyId(reply, to, 'cbor'), map(after, [text('result'), RESULT]), `${String(from)} → ${String(to)}`)
    }
  }
})

test('an id that is not first, an error reply, a non-canonical key head, an indefinite-length map', () => {
  const later = map([text('result'), RESULT], [text('id'), encodeCbor(3)])
  assert.deepEqual(withReplyId(later, 'tok', 'cbor'), map([text('result'), RESULT], [text('id'), text('tok')]))
  const error = map([text('id'), encodeCbor(9)], [text('error'), ERROR])
  assert.deepEqual(withReplyId(error, 70_000, 'cbor'), map([text('id'), encodeCbor(70_000)], [text('error'), ERROR]), 'the error exactly as the module sent it')
  const longKey = Buffer.from([0x78, 0x02, 0x69, 0x64]) // "id" with a one-byte length
  assert.deepEqual(withReplyId(map([longKey, encodeCbor(1)], [text('result'), RESULT]), 2, 'cbor'), map([longKey, encodeCbor(2)], [text('result'), RESULT]))
  const indefinite = Buffer.concat([Buffer.from([0xbf]), text('id'), encodeCbor(1), text('result'), RESULT, Buffer.from([0xff])])
  assert.deepEqual(withReplyId(indefinite, 300, 'cbor'), Buffer.concat([Buffer.from([0xbf]), text('id'), encodeCbor(300), text('result'), RESULT, Buffer.from([0xff])]))
  // a nested `id` is the module's own, not the envelope's
  const nested = map([text('result'), encodeCbor({ id: 'inner' })], [text('id'), encodeCbor(1)])
  assert.deepEqual(decodeCbor(withReplyId(nested, 5, 'cbor') as Buffer), { result: { id: 'inner' }, id: 5 })
  // duplicate ids (a decoder keeps the last): each is replaced
  const twice = map([text('id'), encodeCbor(1)], [text('result'), encodeCbor(null)], [text('id'), encodeCbor(2)])
  assert.deepEqual(withReplyId(twice, 'op', 'cbor'), map([text('id'), text('op')], [text('result'), encodeCbor(null)], [text('id'), text('op')]))
})

test('JSON: a JSON reply keeps its keys and their order; a CBOR reply to an operator who asked in JSON is turned into JSON', () => {
  const json = Buffer.from('{"result":{"lines":["a","b"]},"id":12}')
  assert.equal(withReplyId(json, 'tok', 'json')?.toString(), '{"result":{"lines":["a","b"]},"id":"tok"}')
  const cbor = map([text('id'), encodeCbor(1)], [text('error'), ERROR])
  assert.deepEqual(JSON.parse(withReplyId(cbor, 44, 'json')?.toString() ?? ''), { id: 44, error: { code: 'NOT_AUTHORISED', message: 'fleet operator bob is a viewer' } })
  assert.deepEqual(decodeCbor(withReplyId(json, 3, 'cbor') as Buffer), { result: { lines: ['a', 'b'] }, id: 3 }, 'a JSON reply to a CBOR request')
})

test('what is not a map with an id, ending where the bytes do, is refused', () => {
  const whole = map([text('id'), encodeCbor(1)], [text('result'), RESULT])
  const malformed: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['an array', encodeCbor([1, 2])],
    ['a map without an id', map([text('result'), encodeCbor(1)])],
    ['truncated', whole.subarray(0, whole.length - 10)],
    ['truncated in the id', map([text('id'), encodeCbor(70_000)]).subarray(0, 6)],
    ['trailing bytes', Buffer.concat([whole, Buffer.from([0])])],
    ['more entries announced than there are', Buffer.concat([Buffer.from([0xa3]), whole.subarray(1)])],
    ['an indefinite map without its break', Buffer.concat([Buffer.from([0xbf]), text('id'), encodeCbor(1)])],
    ['nested past the depth limit', map([text('id'), encodeCbor(1)], [text('result'), Buffer.concat([Buffer.alloc(100, 0x81), encodeCbor(0)])])],
    ['JSON that is no object', Buffer.from('{"id": 1')],
    ['a JSON object without an id', Buffer.from('{"result": 1}')],
  ]
  for (const [what, bytes] of malformed) assert.equal(withReplyId(bytes, 1, 'cbor'), null, what)
  assert.equal(withReplyId(Buffer.from('[1]'), 1, 'json'), null, 'JSON that is not an object')
})
