// The broker's RPC router (core/broker/rpc-router.ts) on its own: which instance gets a request, which
// replies reach the caller, and what the router answers itself. Its clock is injected; what it publishes
// on behalf of the core is collected and decoded.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRpcRouter } from '../../core/broker/rpc-router.js'
import type { Identity } from '../../core/broker/access.js'
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

const request = (id: number | string, timeout?: number): Buffer => encodeCbor({ id, reply: 'reply/caller.0', ...(timeout === undefined ? {} : { timeout }), args: { n: 1 } })
const reply = (id: number | string): Buffer => encodeCbor({ id, result: 'ok' })

test('requests go round robin to the live instances, and each reply reaches the caller once, from the instance that was given it', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  r.online('echo.1', 'echo')
  assert.equal(r.recipient('rpc/echo/ping', request(1)), 'echo.0')
  assert.equal(r.recipient('rpc/echo/ping', request(2)), 'echo.1')
  assert.equal(r.recipient('rpc/echo/ping', request(3)), 'echo.0')
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
  assert.equal(r.recipient('rpc/echo/ping', request(5)), 'echo.0')
  assert.equal(r.recipient('rpc/echo/ping', request('job-7')), 'echo.0')
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply('5')), false)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(5)), true)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply('job-7')), true)
  r.stop()
})

test('a reply later than the request\'s timeout goes nowhere', () => {
  const { r, advance } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/slow', request(1, 500))
  r.recipient('rpc/echo/slow', request(2, 500))
  advance(400)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), true)
  advance(200)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(2)), false)
  r.stop()
})

test('an instance that goes away leaves UNAVAILABLE answers for the calls it held, naming the method', () => {
  const { r, sent } = router()
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/ping', request(1))
  r.recipient('rpc/echo/slow', request(2))
  r.offline('echo.0', 'echo', 'exit code 1')
  assert.deepEqual(sent.map(s => [s.topic, s.envelope.id, s.envelope.error?.code]), [['reply/caller.0', 1, 'UNAVAILABLE'], ['reply/caller.0', 2, 'UNAVAILABLE']])
  assert.match(sent[0]?.envelope.error?.message ?? '', /echo\.ping: instance echo\.0 stopped before replying \(exit code 1\)/)
  assert.match(sent[1]?.envelope.error?.message ?? '', /echo\.slow/)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', reply(1)), false, 'its late reply goes nowhere')
  r.stop()
})

test('the router answers for a module that does not exist, or has no live instance', () => {
  const { r, sent } = router({ echo: 'backing-off' })
  assert.equal(r.recipient('rpc/nosuch/ping', request(1)), null)
  assert.equal(r.recipient('rpc/echo/ping', request(2)), null)
  assert.deepEqual(sent.map(s => [s.envelope.id, s.envelope.error?.code]), [[1, 'NO_SUCH_MODULE'], [2, 'UNAVAILABLE']])
  assert.equal(sent[0]?.envelope.error?.message, 'nosuch.ping: the gateway has no module named "nosuch"')
  assert.equal(sent[1]?.envelope.error?.message, 'echo.ping: module echo has no live instance (it is backing-off)')
  assert.deepEqual(sent[1]?.envelope.error?.details, { module: 'echo', state: 'backing-off' }, 'issue 10 B2: the state travels in the details')
  r.stop()
})
