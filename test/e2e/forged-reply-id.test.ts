// A module that may call nothing answers the call it holds with a reply map holding two ids (review 4,
// finding 1): the broker read the first, the caller's SDK the last, so the caller's next call — to another
// module — was answered by it. Such a reply goes nowhere, and so does `{id: 0, error, id: <another>}`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'

test('review: a reply with two ids reaches no one; the calls it named get their own answers', { timeout: 60_000 }, async (t) => {
  const gw = await startTestGateway({
    modules: [
      { name: 'victim', entry: fixture('echo') },
      { name: 'good', entry: fixture('echo') },
      { name: 'forger', entry: fixture('id-forger'), calls: [] },
    ],
  })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  await waitFor('forger running', () => gw.gateway.modules.require('forger').instances[0]?.state.status === 'running')
  const notOwed = gw.gateway.router.stats().repliesNotOwed
  // victim's SDK numbers its calls in turn: the forger holds call N and names N + 1 and N + 2
  const held = op.call('victim', 'callOther', { module: 'forger', method: 'hold', args: null, timeout: 1500 }, 10_000)
  await waitFor('the forger holding its call', () => gw.gateway.router.pendingOf('forger.0') === 1)
  const slow = [1, 2].map(() => op.call('victim', 'callOther', { module: 'good', method: 'slow', args: 1000 }, 10_000))
  const answers = await Promise.all(slow)
  assert.deepEqual(answers.map(a => [a.result, a.error]), [[1000, undefined], [1000, undefined]], `good's own answers: ${JSON.stringify(answers)}`)
  const forgerCall = await held
  assert.equal(forgerCall.error?.code, 'TIMEOUT', JSON.stringify(forgerCall))
  assert.equal(gw.gateway.router.stats().repliesNotOwed - notOwed, 4, 'the three id-0 errors and the two-id result were dropped')
})
