// A request names its caller's own reply topic, and the broker checks it (issue 10 A4); review 5 showed a
// second `reply` the broker did not read: after the arguments, behind a key that is not text, or under a key
// a decoder takes for text. A module that decodes the request whole (as any CBOR library does) then
// answered on another operator's reply topic, under the id of that operator's own call. The broker reads
// the whole map and refuses every request whose receiver could read another reply topic than the one it
// checked, and (review 6) every request it cannot read as a map naming the caller's own reply topic; the
// publisher's connection is closed, as for any refused publish.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'

/** a CBOR map of `count` entries, its keys and values given as encoded items or values to encode */
const map = (count: number, ...items: unknown[]): Buffer => Buffer.concat([Buffer.from([0xa0 + count]), ...items.map(i => Buffer.isBuffer(i) ? i : encodeCbor(i))])
/** "reply" as text wrapped in tag 55799 (self-described CBOR), which decoders drop */
const taggedReply = Buffer.concat([Buffer.from([0xd9, 0xd9, 0xf7]), encodeCbor('reply')])
/** "reply" as a byte string, which cbor-x makes a text key */
const bytesReply = Buffer.concat([Buffer.from([0x45]), Buffer.from('reply')])

test('review 5: a request whose map could name another reply topic is refused; the caller it named gets its own answer', { timeout: 60_000 }, async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'naive', entry: fixture('naive-echo') }] })
  t.after(() => gw.stop())
  const victim = await connectOperator(gw.url)
  t.after(() => victim.end())
  await waitFor('naive running', () => gw.gateway.modules.require('naive').instances[0]?.state.status === 'running')
  const calls = (): number => gw.gateway.router.stats().modules.get('naive')?.calls ?? 0

  const forgeries: Record<string, (own: string, other: string, id: number) => Buffer> = {
    'a second reply after the arguments': (own, other, id) => map(5, 'id', id, 'reply', own, 'timeout', 5000, 'args', 666, 'reply', other),
    'a second reply behind an integer key': (own, other, id) => map(5, 'id', id, 'reply', own, 'timeout', 5000, 0, 0, 'reply', other),
    'a second reply under a tagged key': (own, other, id) => map(5, 'id', id, 'reply', own, 'timeout', 5000, 'args', 666, taggedReply, encodeCbor(other)),
    'a second reply under a byte-string key': (own, other, id) => map(5, 'id', id, 'reply', own, 'timeout', 5000, 'args', 666, bytesReply, encodeCbor(other)),
    'a second reply after the map\'s end': (own, other, id) => Buffer.concat([map(4, 'id', id, 'reply', own, 'timeout', 5000, 'args', 666), encodeCbor('reply'), encodeCbor(other)]),
    'the only reply under a tagged key': (_own, other, id) => map(4, 'id', id, taggedReply, encodeCbor(other), 'timeout', 5000, 'args', 666),
    // review 6: what the broker cannot read at all was delivered as it was, to be read by the module's decoder
    'a map behind tag 55799 (not a map to the broker, one to cbor-x)': (_own, other, id) => Buffer.concat([Buffer.from([0xd9, 0xd9, 0xf7]), map(4, 'id', id, 'reply', other, 'timeout', 5000, 'args', 666)]),
    'JSON that JSON.parse refuses and Python\'s json reads (NaN)': (_own, other, id) => Buffer.from(`{"id":${id},"reply":"${other}","timeout":5000,"args":NaN}`),
  }
  for (const [what, forge] of Object.entries(forgeries)) {
    const before = calls()
    // the victim's call is in flight at naive: its id is the victim's next (the helper numbers from 1)
    const answer = victim.call('naive', 'slow', 700, 10_000)
    await waitFor(`${what}: the victim's call held`, () => calls() === before + 1)
    const attacker = await connectOperator(gw.url)
    const closed = new Promise<void>(resolve => attacker.client.once('close', () => resolve()))
    const id = before + 1 // the victim's call ids are 1, 2, … in the order of these cases
    attacker.raw('rpc/naive/slow', forge(`reply/${attacker.clientId}`, `reply/${victim.clientId}`, id))
    // refused: the broker closes the publisher's connection
    await Promise.race([closed, new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`${what}: the request was not refused`)), 5000))])
    await attacker.end()
    const reply = await answer
    assert.deepEqual(reply, { id, result: 700 }, `${what}: the victim's own answer, not the forged 666`)
    assert.equal(calls(), before + 1, `${what}: the forged request reached no module`)
  }
})

test('review 7: an id or timeout given twice is answered BAD_REQUEST by the broker, to the core and to a module alike; the module never sees it', { timeout: 60_000 }, async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'naive', entry: fixture('naive-echo') }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  await waitFor('naive running', () => gw.gateway.modules.require('naive').instances[0]?.state.status === 'running')
  const calls = (): number => gw.gateway.router.stats().modules.get('naive')?.calls ?? 0
  const replies: Array<{ id: unknown, error?: { code: string, message: string } }> = []
  op.client.on('message', (_topic, payload) => replies.push(decodeCbor(payload) as { id: unknown }))
  const own = `reply/${op.clientId}`
  const cases: Array<[string, string, Buffer, unknown, RegExp]> = [
    // cbor-x keeps the last of two: the core held the call 50 days where the broker read 100 ms
    ['core: a timeout twice', 'rpc/core/list', map(4, 'id', 101, 'reply', own, 'timeout', 100, 'timeout', 2 ** 32), 101, /"timeout" must be/],
    ['core: an id twice', 'rpc/core/list', map(3, 'id', 102, 'reply', own, 'id', 103), 0, /valid "id"/],
    ['module: an id twice', 'rpc/naive/echo', map(4, 'id', 104, 'reply', own, 'id', 105, 'args', 1), 0, /valid "id"/],
    ['module: a timeout twice', 'rpc/naive/echo', map(5, 'id', 106, 'reply', own, 'timeout', 100, 'timeout', 2 ** 32, 'args', 1), 106, /"timeout" must be/],
  ]
  for (const [what, topic, payload, id, message] of cases) {
    const before = replies.length
    op.raw(topic, payload)
    await waitFor(`${what}: answered`, () => replies.length > before)
    const answer = replies[before]
    assert.equal(answer?.id, id, `${what}: the id the broker read, or 0`)
    assert.equal(answer?.error?.code, 'BAD_REQUEST', what)
    assert.match(answer?.error?.message ?? '', message, what)
  }
  assert.equal(calls(), 0, 'the module was given none of them')
  assert.equal(op.client.connected, true, 'a malformed request is answered, not punished')
  assert.deepEqual(await op.call('naive', 'echo', 7), { id: 1, result: 7 })
})
