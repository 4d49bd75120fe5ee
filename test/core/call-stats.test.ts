// Issue 13: what the RPC router counts per module (core/broker/call-stats.ts) for rpc/core/metrics: calls,
// error replies by code (the module's own, read from the reply's bytes, and the router's), durations on
// its clock, replies not owed. The clock is injected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import { createRpcRouter } from '../../core/broker/rpc-router.js'
import type { Identity } from '../../core/broker/access.js'
import { CALL_DURATION_BUCKETS_MS } from '../../core/broker/call-stats.js'
import { encode, encodeCbor } from '../../core/protocol/codec.js'

const instance = (clientId: string): Identity => ({ kind: 'module', clientId, module: clientId.split('.')[0] as string, instance: 0, calls: '*' })
const caller = instance('caller.0')
const request = (id: number, timeout?: number): Buffer => encodeCbor({ id, reply: 'reply/caller.0', ...(timeout === undefined ? {} : { timeout }) })

function router () {
  let clock = 1_000
  const r = createRpcRouter({ moduleStatus: m => (m === 'echo' ? 'running' : undefined), send: () => {}, now: () => clock })
  r.online('echo.0', 'echo')
  return { r, advance: (ms: number) => { clock += ms }, echo: () => r.stats().modules.get('echo') }
}

test('issue 13: a call and its reply are counted with the time between them, in its bucket', () => {
  const { r, advance, echo } = router()
  r.recipient('rpc/echo/ping', request(1), caller)
  advance(3)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 1, result: { ok: true } })), true)
  const stats = echo()
  assert.equal(stats?.calls, 1)
  assert.equal(stats?.errors.size, 0, 'a result map is not an error')
  assert.equal(stats?.durationMs, 3)
  assert.equal(stats?.durations[CALL_DURATION_BUCKETS_MS.indexOf(5)], 1, '3 ms falls in the bucket up to 5 ms')
  assert.equal(stats?.durations.reduce((a, b) => a + b, 0), 1)
  r.stop()
})

test('issue 13: error replies are counted by code: as the SDK writes them, in JSON, and a code outside the registry as OTHER', () => {
  const { r, echo } = router()
  for (let id = 1; id <= 4; id++) r.recipient('rpc/echo/x', request(id), caller)
  const replied = (payload: Buffer): boolean => r.replied(instance('echo.0'), 'reply/caller.0', payload)
  assert.equal(replied(encodeCbor({ id: 1, error: { code: 'NO_SUCH_METHOD', message: 'no' } })), true)
  assert.equal(replied(encode({ id: 2, error: { code: 'BAD_ARGUMENTS', message: 'no' } }, 'json')), true)
  assert.equal(replied(encodeCbor({ id: 3, error: { code: 'MY_OWN_CODE', message: 'no' } })), true)
  assert.equal(replied(encodeCbor({ id: 4, result: 'error' })), true, 'a result that is the text "error" is a result')
  assert.deepEqual(Object.fromEntries(echo()?.errors ?? []), { NO_SUCH_METHOD: 1, BAD_ARGUMENTS: 1, OTHER: 1 })
  r.stop()
})

test('issue 13: the router\'s own answers count too: UNAVAILABLE when the instance goes, TIMEOUT when it stops waiting, NO_SUCH_MODULE without a name', (t) => {
  const timers = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }) // the router's deadline wheel
  t.after(() => timers.restore())
  const { r, advance, echo } = router()
  r.recipient('rpc/echo/x', request(1), caller)
  r.offline('echo.0', 'echo', 'exit-code')
  r.recipient('rpc/echo/x', request(2), caller) // no live instance now
  r.online('echo.0', 'echo')
  r.recipient('rpc/echo/x', request(3, 100), caller)
  r.recipient('rpc/nosuch/x', request(4), caller)
  r.recipient('rpc/other/x', request(5), caller)
  assert.equal(r.replied(instance('echo.0'), 'reply/caller.0', encodeCbor({ id: 9, result: 1 })), false)
  assert.deepEqual(Object.fromEntries(echo()?.errors ?? []), { UNAVAILABLE: 2 })
  assert.equal(r.stats().noSuchModule, 2)
  assert.equal(r.stats().modules.has('nosuch'), false, 'a made-up name is not kept')
  assert.equal(r.stats().repliesNotOwed, 1)
  // call 3 waited 100 ms: the wheel's timer, set for its deadline's granule, finds it past its time
  advance(200)
  timers.tick(200)
  assert.deepEqual(Object.fromEntries(echo()?.errors ?? []), { UNAVAILABLE: 2, TIMEOUT: 1 })
  assert.equal(echo()?.calls, 2, 'calls 1 and 3 were given to the instance')
  r.stop()
})
