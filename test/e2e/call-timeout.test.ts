// A held call ends at its timeout (review: the router's 10 s prune kept a 0.5 s call's place for up to
// 11 s): a real gateway, a real module that answers only long after, a real caller at its per-caller limit.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import type { CallStats } from '../../core/broker/call-stats.js'
import { STORE_LIMITS } from '../../core/broker/limits.js'
import { encodeCbor } from '../../core/protocol/codec.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }] })
  op = await connectOperator(gw.url)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

test('review: calls with a 500 ms timeout give their places back before the module answers; its late answers are not owed and have no duration', async () => {
  const router = gw.gateway.router
  const alpha = (): CallStats | undefined => router.stats().modules.get('alpha')
  const durations = (): number => alpha()?.durations.reduce((a, b) => a + b, 0) ?? 0
  const before = { notOwed: router.stats().repliesNotOwed, durations: durations() }
  const reply = `reply/${op.clientId}`
  // the caller's whole per-caller limit, each call answered 3 s later
  for (let id = 1; id <= STORE_LIMITS.pendingCallsPerCaller; id++) op.raw('rpc/alpha/slow', encodeCbor({ id, reply, timeout: 500, args: 3000 }))
  await waitFor('the calls held', () => router.pending === STORE_LIMITS.pendingCallsPerCaller)
  await waitFor('the calls released at their timeout', () => router.pending === 0)
  assert.equal(router.stats().repliesNotOwed, before.notOwed, 'released before any answer came')
  assert.equal(alpha()?.errors.get('TIMEOUT'), STORE_LIMITS.pendingCallsPerCaller)
  const again = await op.call('alpha', 'echo', 'room again')
  assert.equal(again.result, 'room again', 'the caller at its limit a moment ago may call again')
  await waitFor('the late answers', () => router.stats().repliesNotOwed === before.notOwed + STORE_LIMITS.pendingCallsPerCaller, 20_000)
  assert.equal(durations(), before.durations + 1, 'only the echo has a duration')
  assert.equal(alpha()?.errors.get('TIMEOUT'), STORE_LIMITS.pendingCallsPerCaller, 'a late answer is not counted again')
})
