// The broker's RPC router (core/broker/rpc-router.ts) on its own: which instance gets a request, which
// replies reach the caller, and what the router answers itself. Its clock is injected; what it publishes
// on behalf of the core is collected and decoded.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import { DEADLINE_GRANULE_MS, createRpcRouter } from '../../core/broker/rpc-router.js'
import type { Identity } from '../../core/broker/access.js'
import { STORE_LIMITS } from '../../core/broker/limits.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'

const instance = (clientId: string): Identity => ({ kind: 'module', clientId, module: clientId.split('.')[0] as string, instance: 0, calls: '*' })

function router (states: Record<string, string> = { echo: 'running' }) {
  const sent: Array<{ topic: string, envelope: { id: unknown, error?: { code: string, message: string, details?: unknown } } }> = []
  let clock = 1_000
  const r = createRpcRouter({
    moduleStatus: module => states[module],
    send: (topic, payload) => sent.push({ topic, envelope: decodeCbor(payload) as { id: unknown, error?: { code: string, message: string, details?: unknown } } }),
    now: () => clock,
  })
  return { r, sent, advance: (ms: number) => { clock += ms } }
}

const caller = instance('caller.0')
const request = (id: number | string, timeout?: number): Buffer => encodeCbor({ id, reply: 'reply/caller.0', ...(timeout === undefined ? {} : { timeout }), args: { n: 1 } })
const reply = (id: number | string): Buffer => encodeCbor({ id, result: 'ok' })

test('requests go round robin to the live instances, and each reply reaches the caller once, from the instance that was given it', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  r.online('echo.1', 'echo')
  assert.equal(r.recipient('rpc/echo/ping', request(1), caller), 'echo.0')
  assert.equal(r.recipient('rpc/echo/ping', request(2), caller), 'echo.1')
  assert.equal(r.recipient('rpc/echo/ping', request(3), caller), 'echo.0')
  assert.equal(r.replied(instance('echo.1'), 'reply/caller.0', reply(1)), false, 'echo.1 was not given request 1')
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false, 'a repeated reply goes nowhere')
  assert.equal(r.replied(instance('echo.0'), 'reply/other.0', reply(3)), false, 'request 3 was made on another reply topic')
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(3)), true)
  assert.equal(r.replied(instance('echo.1'), 'reply/caller.0', reply(2)), true)
  assert.equal(sent.length, 0, 'the router answered nothing itself')
  r.stop()
})

test('a reply answers a request only with an id of the same type', () => {
  const { r } = router()
  r.online('echo.0', 'echo')
  assert.equal(r.recipient('rpc/echo/ping', request(5), caller), 'echo.0')
  assert.equal(r.recipient('rpc/echo/ping', request('job-7'), caller), 'echo.0')
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply('5')), false)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(5)), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply('job-7')), true)
  r.stop()
})

test('a reply later than the request\'s timeout goes nowhere', () => {
  const { r, advance } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/slow', request(1, 500), caller)
  r.recipient('rpc/echo/slow', request(2, 500), caller)
  advance(400)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), true)
  advance(200)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(2)), false)
  r.stop()
})

test('issue 10 review: a caller that disconnects has its calls forgotten, so the next holder of its client id gets none of their replies', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/slow', request(1), caller)
  r.recipient('rpc/echo/slow', encodeCbor({ id: 2, reply: 'reply/other.0', args: null }), instance('other.0'))
  assert.equal(r.pending, 2)
  r.callerGone('caller.0')
  assert.equal(r.pending, 1)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false, 'its reply goes nowhere')
  assert.equal(r.replied(instance('echo.0'), 'reply/other.0', reply(2)), true, 'another caller\'s call is kept')
  r.offline('echo.0', 'echo', 'exit')
  assert.equal(sent.length, 0, 'no UNAVAILABLE for the calls of a caller gone')
  r.stop()
})

test('an instance that goes away leaves UNAVAILABLE answers for the calls it held, naming the method', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/ping', request(1), caller)
  r.recipient('rpc/echo/slow', request(2), caller)
  r.offline('echo.0', 'echo', 'exit code 1')
  assert.deepEqual(sent.map(s => [s.topic, s.envelope.id, s.envelope.error?.code]), [['reply/caller.0', 1, 'UNAVAILABLE'], ['reply/caller.0', 2, 'UNAVAILABLE']])
  assert.match(sent[0]?.envelope.error?.message ?? '', /echo\.ping: instance echo\.0 stopped before replying \(exit code 1\)/)
  assert.match(sent[1]?.envelope.error?.message ?? '', /echo\.slow/)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false, 'its late reply goes nowhere')
  r.stop()
})

test('the router answers for a module that does not exist, or has no live instance', () => {
  const { r, sent } = router({ echo: 'backing-off' })
  assert.equal(r.recipient('rpc/nosuch/ping', request(1), caller), null)
  assert.equal(r.recipient('rpc/echo/ping', request(2), caller), null)
  assert.deepEqual(sent.map(s => [s.envelope.id, s.envelope.error?.code]), [[1, 'NO_SUCH_MODULE'], [2, 'UNAVAILABLE']])
  assert.equal(sent[0]?.envelope.error?.message, 'nosuch.ping: the gateway has no module named "nosuch"')
  assert.equal(sent[1]?.envelope.error?.message, 'echo.ping: module echo has no live instance (it is backing-off)')
  assert.deepEqual(sent[1]?.envelope.error?.details, { module: 'echo', state: 'backing-off' }, 'issue 10 B2: the state travels in the details')
  r.stop()
  // review 7: a module still `running` whose instance's connection just closed says so, not "it is running"
  const running = router({ echo: 'running' })
  running.r.online('echo.0', 'echo')
  running.r.offline('echo.0', 'echo', 'disconnect')
  assert.equal(running.r.recipient('rpc/echo/ping', request(3), caller), null)
  assert.equal(running.sent[0]?.envelope.error?.message, 'echo.ping: module echo has no live instance (it is running, but none of its instances is connected to the broker now)')
  running.r.stop()
})

test('issue 10 A4: a request naming a reply topic that is not its caller\'s is refused, unless the broker says the caller answers there', () => {
  const { r } = router()
  r.online('echo.0', 'echo')
  assert.deepEqual(r.recipient('rpc/echo/ping', request(1), instance('evil.0')), { refused: 'a request may name only its caller\'s own reply topic (reply/evil.0), not reply/caller.0' })
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false, 'nothing was held for it')
  assert.equal(r.recipient('rpc/echo/ping', request(2), caller), 'echo.0')
  r.stop()
})

test('issue 10 A7: the router holds a call no longer than maxCallTimeoutMs, whatever timeout the request names', () => {
  const { r, advance } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/slow', request(1, 2 ** 32), caller)
  r.recipient('rpc/echo/slow', request(2, 2 ** 32), caller)
  advance(STORE_LIMITS.maxCallTimeoutMs)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), true, 'at the limit it is still held')
  advance(1)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(2)), false, 'past it, the reply goes nowhere')
  assert.equal(r.pending, 0)
  r.stop()
})

test('issue 10 A7: calls in flight are bounded in total', () => {
  const { r, sent } = router()
  const limits = { pendingCalls: 3 }
  const small = createRpcRouter({ moduleStatus: () => 'running', send: (topic, payload) => sent.push({ topic, envelope: decodeCbor(payload) as any }), limits })
  small.online('echo.0', 'echo')
  for (let id = 1; id <= 3; id++) assert.equal(small.recipient('rpc/echo/ping', request(id), caller), 'echo.0')
  assert.equal(small.recipient('rpc/echo/ping', request(1), caller), 'echo.0', 'the same id again replaces its route')
  assert.equal(small.recipient('rpc/echo/ping', request(4), caller), null)
  assert.deepEqual(sent.map(s => [s.envelope.id, s.envelope.error?.code]), [[4, 'TOO_MANY_CALLS']])
  assert.match(sent[0]?.envelope.error?.message ?? '', /3 calls are in flight through the gateway/)
  assert.equal(small.pendingOf('echo.0'), 3)
  assert.equal(small.replied(instance('echo.0'), 'reply/caller.0', reply(2)), true)
  assert.equal(small.recipient('rpc/echo/ping', request(4), caller), 'echo.0', 'a reply makes room')
  small.stop()
  r.stop()
})

test('issue 10 review: calls in flight are bounded per identity: a module over all its instances, an operator over all its connections; every release counts', () => {
  const sent: Array<{ id: unknown, error?: { code: string, message: string, details?: unknown } }> = []
  const r = createRpcRouter({ moduleStatus: () => 'running', send: (_topic, payload) => sent.push(decodeCbor(payload) as any), limits: { pendingCallsPerIdentity: 4 }, answersTo: () => true })
  r.online('echo.0', 'echo')
  const worker = (n: number): Identity => ({ kind: 'module', clientId: `worker.${n}`, module: 'worker', instance: n, calls: '*' })
  const ask = (from: Identity, id: number): string | null | { refused: string } =>
    r.recipient('rpc/echo/ping', encodeCbor({ id, reply: `reply/${from.clientId}`, args: 1 }), from)
  // four calls from two instances of one module: its limit
  assert.equal(ask(worker(0), 1), 'echo.0')
  assert.equal(ask(worker(0), 2), 'echo.0')
  assert.equal(ask(worker(1), 3), 'echo.0')
  assert.equal(ask(worker(1), 3), 'echo.0', 'the same id again is the same call')
  assert.equal(ask(worker(1), 4), 'echo.0')
  assert.equal(ask(worker(2), 5), null, 'a third instance of the same module is refused')
  assert.deepEqual(sent.at(-1)?.error?.details, { limit: 'perIdentity', max: 4 })
  assert.match(sent.at(-1)?.error?.message ?? '', /4 calls from module worker are in flight, all its connections together/)
  // another identity is not held back: an operator, whose connections count together too
  const ops = (clientId: string): Identity => ({ kind: 'operator', clientId, user: 'ops', role: 'admin' })
  for (let id = 1; id <= 4; id++) assert.equal(ask(ops(`laptop-${id % 2}`), id), 'echo.0')
  assert.equal(ask(ops('laptop-9'), 9), null)
  assert.deepEqual(r.refused, { perCaller: 0, perIdentity: 2, gateway: 0 })
  // every way a call ends gives its place back: a reply, the caller leaving, the instance going away, the timeout
  assert.equal(r.replied(instance('echo.0'), 'reply/worker.0', reply(1)), true)
  assert.equal(ask(worker(2), 5), 'echo.0', 'a reply makes room')
  r.callerGone('worker.1')
  assert.equal(ask(worker(2), 6), 'echo.0')
  assert.equal(ask(worker(2), 7), 'echo.0', 'the caller that left freed both its calls')
  assert.equal(ask(worker(2), 8), null)
  r.offline('echo.0', 'echo', 'exit')
  r.online('echo.0', 'echo')
  for (let id = 10; id < 14; id++) assert.equal(ask(worker(3), id), 'echo.0', 'the instance that went away freed them all')
  assert.equal(r.pending, 4)
  r.stop()
})

test('issue 10 B1: an id-0 BAD_REQUEST from an instance holding a call of that caller passes (it could not read the id); other id-0 replies do not', () => {
  const { r } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/ping', request(5), caller)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 0, result: 'forged' })), false)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 0, error: { code: 'BAD_REQUEST', message: 'unreadable id' } })), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/other.0', encodeCbor({ id: 0, error: { code: 'BAD_REQUEST', message: 'unreadable id' } })), false, 'it holds nothing of that caller')
  // ids beyond 32 bits travel as CBOR uint64 and match exactly
  r.recipient('rpc/echo/ping', request(2n ** 64n - 1n as unknown as number), caller)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 2n ** 64n - 2n, result: 1 })), false)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 2n ** 64n - 1n, result: 1 })), true)
  r.stop()
})

test('review 8: one id-0 BAD_REQUEST per call held of that caller passes; a flood of them does not reach the caller', () => {
  const { r } = router()
  r.online('echo.0', 'echo')
  const unreadable = encodeCbor({ id: 0, error: { code: 'BAD_REQUEST', message: 'unreadable id' } })
  r.recipient('rpc/echo/ping', request(1), caller)
  r.recipient('rpc/echo/ping', request(2), caller)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', unreadable), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', unreadable), true)
  for (let i = 0; i < 100; i++) assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', unreadable), false)
  // a call answered and a new one held: one more may pass, on the new one's account
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 1, result: 1 })), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', unreadable), false)
  r.recipient('rpc/echo/ping', request(3), caller)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', unreadable), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', unreadable), false)
  r.stop()
})

test('review: a call is released at its timeout, within one granule, and counted TIMEOUT; a reply after it is not owed and has no duration', (t) => {
  const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout'] })
  t.after(() => clock.restore())
  const sent: unknown[] = []
  const r = createRpcRouter({ moduleStatus: () => 'running', send: (_topic, payload) => sent.push(decodeCbor(payload)), now: () => clock.now, limits: { pendingCallsPerCaller: 2 } })
  t.after(() => r.stop())
  r.online('echo.0', 'echo')
  assert.equal(r.recipient('rpc/echo/slow', request(1, 1_000), caller), 'echo.0')
  assert.equal(r.recipient('rpc/echo/slow', request(2, 1_050), caller), 'echo.0')
  assert.equal(r.recipient('rpc/echo/slow', request(3, 1_000), caller), null, 'the caller\'s two places are taken')
  clock.tick(999)
  assert.equal(r.pendingOf('echo.0'), 2, 'not before its deadline')
  clock.tick(1)
  assert.equal(r.pendingOf('echo.0'), 1, 'call 1 at its deadline, a granule boundary')
  clock.tick(DEADLINE_GRANULE_MS)
  assert.equal(r.pending, 0, 'call 2 within one granule of its deadline')
  assert.equal(r.recipient('rpc/echo/slow', request(4, 1_000), caller), 'echo.0', 'the caller may call again')
  const echo = r.stats().modules.get('echo')
  assert.deepEqual(Object.fromEntries(echo?.errors ?? []), { TOO_MANY_CALLS: 1, TIMEOUT: 2 })
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false, 'a reply after it is not owed')
  assert.equal(r.stats().repliesNotOwed, 1)
  assert.equal(echo?.durations.reduce((a, b) => a + b, 0), 0, 'and has no duration')
  assert.equal(r.pending, 1, 'call 4 is held')
})

test('review: a reply past the timeout but before the wheel releases the call is the timeout\'s: TIMEOUT, not owed, no duration, counted once', (t) => {
  const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout'] })
  t.after(() => clock.restore())
  const r = createRpcRouter({ moduleStatus: () => 'running', send: () => {}, now: () => clock.now })
  t.after(() => r.stop())
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/slow', request(1, 950), caller)
  clock.setSystemTime(960) // the clock moves past the deadline, the wheel's timer (for 1000) has not fired
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false)
  assert.equal(r.pending, 0)
  clock.tick(1_000)
  const echo = r.stats().modules.get('echo')
  assert.deepEqual(Object.fromEntries(echo?.errors ?? []), { TIMEOUT: 1 })
  assert.equal(echo?.durations.reduce((a, b) => a + b, 0), 0)
  assert.equal(r.stats().repliesNotOwed, 1)
})

test('review: a request again with the same id is held for its latest deadline only', (t) => {
  const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout'] })
  t.after(() => clock.restore())
  const r = createRpcRouter({ moduleStatus: () => 'running', send: () => {}, now: () => clock.now })
  t.after(() => r.stop())
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/slow', request(1, 100), caller)
  r.recipient('rpc/echo/slow', request(1, 5_000), caller)
  clock.tick(1_000)
  assert.equal(r.pending, 1, 'the first deadline is gone with its request')
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), true)
  assert.equal(r.pending, 0)
  clock.tick(10_000)
  assert.equal(r.stats().modules.get('echo')?.errors.size, 0, 'no TIMEOUT for either')
})

test('review 7: a request whose id or timeout its receiver could read another way is answered BAD_REQUEST by the router and delivered to no one', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  /** a CBOR map of `count` entries given as keys and values in turn: a key may come twice */
  const map = (count: number, ...items: unknown[]): Buffer => Buffer.concat([Buffer.from([0xa0 + count]), ...items.map(i => encodeCbor(i))])
  const cases: Array<[string, Buffer, unknown, RegExp]> = [
    ['an id given twice (a decoder keeps the last)', map(3, 'id', 1, 'reply', 'reply/caller.0', 'id', 2), 0, /valid "id".*given once/],
    ['a timeout given twice', map(4, 'id', 3, 'reply', 'reply/caller.0', 'timeout', 100, 'timeout', 900_000), 3, /"timeout" must be .*given once/],
    ['a negative timeout', map(3, 'id', 4, 'reply', 'reply/caller.0', 'timeout', -5), 4, /"timeout"/],
    ['a fractional id', map(2, 'id', 1.5, 'reply', 'reply/caller.0'), 0, /valid "id"/],
  ]
  for (const [what, payload, id, message] of cases) {
    sent.length = 0
    assert.equal(r.recipient('rpc/echo/ping', payload, caller), null, `${what}: delivered to no instance`)
    assert.equal(sent.length, 1, `${what}: one answer`)
    assert.equal(sent[0]?.topic, 'reply/caller.0')
    assert.equal(sent[0]?.envelope.id, id, `${what}: answered with the id read, or 0`)
    assert.equal(sent[0]?.envelope.error?.code, 'BAD_REQUEST')
    assert.match(sent[0]?.envelope.error?.message ?? '', message, what)
  }
  // a JSON id past 2^53 − 1, which Python reads exactly and JSON.parse does not: no reply could be matched to it
  const json: Array<{ topic: string, payload: string }> = []
  const r2 = createRpcRouter({ moduleStatus: () => 'running', send: (topic, payload) => json.push({ topic, payload: payload.toString() }), now: () => 1_000 })
  r2.online('echo.0', 'echo')
  assert.equal(r2.recipient('rpc/echo/ping', Buffer.from('{"id":9007199254740993,"reply":"reply/caller.0"}'), caller), null)
  assert.equal(JSON.parse(json[0]?.payload ?? '{}').error.code, 'BAD_REQUEST')
  assert.equal(JSON.parse(json[0]?.payload ?? '{}').id, 0)
  // the router held none of them: a well-formed request is the only one an instance is given
  assert.equal(r.recipient('rpc/echo/ping', request(9), caller), 'echo.0')
  assert.equal(r.stats().modules.get('echo')?.calls, 1)
  r.stop()
  r2.stop()
})

test('a request read whole past byte strings (a trace context\'s ids): keys after them are read, and one cut short is refused', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  const map = (count: number, ...items: unknown[]): Buffer => Buffer.concat([Buffer.from([0xa0 + count]), ...items.map(i => encodeCbor(i))])
  const trace = Buffer.alloc(16, 7)
  const parent = Buffer.alloc(8, 9)
  assert.equal(r.recipient('rpc/echo/ping', map(5, 'trace', trace, 'parent', parent, 'id', 11, 'reply', 'reply/caller.0', 'timeout', 500), caller), 'echo.0', 'ids first, id and reply after them: delivered')
  assert.equal(sent.length, 0)
  assert.equal(r.recipient('rpc/echo/ping', map(4, 'id', 12, 'reply', 'reply/caller.0', 'trace', trace, 'id', 13), caller), null, 'an id given again after a byte string')
  assert.equal(sent[0]?.envelope.error?.code, 'BAD_REQUEST')
  assert.match(sent[0]?.envelope.error?.message ?? '', /valid "id".*given once/)
  // a byte string announcing 16 bytes where 3 follow: the map does not end where the payload does
  const cut = Buffer.concat([map(2, 'id', 14, 'reply', 'reply/caller.0'), encodeCbor('trace'), Buffer.from([0x50, 1, 2, 3])])
  cut[0] = 0xa3
  sent.length = 0
  const refusal = r.recipient('rpc/echo/ping', cut, caller)
  assert.match(typeof refusal === 'object' && refusal !== null ? refusal.refused : '', /ends where the payload does/, 'cut short: refused')
  assert.equal(sent.length, 0, 'and not answered: its receiver could read another reply topic')
  assert.equal(r.stats().modules.get('echo')?.calls, 1)
  r.stop()
})
