// Review: what a module may read of the core's hooks. Every module's log lines (`hooks/core/log/<source>`) and
// the audit trail (`hooks/core/audit`) are for operators: a module watching `hooks/#` gets other modules' hooks
// and the core's other hooks, never those two; asking for them by name is refused. Over real sockets.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { canSubscribe } from '../../core/broker/access.js'
import type { Identity } from '../../core/broker/access.js'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'

let gw: TestGateway

before(async () => {
  gw = await startTestGateway({
    modules: [
      { name: 'hostile', entry: fixture('hostile') },
      { name: 'ticker', entry: fixture('ticker'), config: { everyMs: 100 } },
    ],
  })
})

after(async () => {
  await gw?.stop()
})

test('review: a module watching hooks/# gets other modules\' hooks but no module\'s log lines and no audit record; an operator gets all three', async () => {
  const op = await connectOperator(gw.url)
  const operatorSaw = new Set<string>()
  op.client.on('message', topic => { operatorSaw.add(topic.replace(/^hooks\/core\/log\/.*/, 'hooks/core/log/…')) })
  await op.client.subscribeAsync('hooks/#')
  // a change (audited, and logged by the core and by the restarted module) while both watch
  const restarted = await op.call('core', 'restart', { module: 'ticker' })
  assert.equal(restarted.error, undefined, JSON.stringify(restarted.error))
  await waitFor('the operator to see the audit record, log lines and ticks', () => ['hooks/core/audit', 'hooks/core/log/…', 'hooks/ticker/tick'].every(t => operatorSaw.has(t)), 10_000)
  const seen = (await op.call('hostile', 'seen')).result as string[]
  assert.ok(seen.includes('hooks/ticker/tick'), `the module got the ticker's hooks: ${seen.join(', ')}`)
  assert.deepEqual(seen.filter(t => t.startsWith('hooks/core/log/') || t === 'hooks/core/audit'), [], 'no log line and no audit record reached the module')
  await op.end()
})

test('review: a module\'s subscription to the log or audit hooks by name is refused; the core\'s other hooks and wildcards are granted (filtered at delivery)', () => {
  const module: Identity = { kind: 'module', clientId: 'hostile.0', module: 'hostile', instance: 0, calls: new Set<string>() }
  const viewer: Identity = { kind: 'operator', clientId: 'eyes', user: 'eyes', role: 'viewer' }
  for (const filter of ['hooks/core/log/+', 'hooks/core/log/ticker', 'hooks/core/audit']) {
    assert.equal(canSubscribe(module, filter), false, filter)
    assert.equal(canSubscribe(viewer, filter), true, `a viewer: ${filter}`)
  }
  for (const filter of ['hooks/core/update', 'hooks/core/budget-breach', 'hooks/#', 'hooks/core/#', 'hooks/ticker/tick']) assert.equal(canSubscribe(module, filter), true, filter)
})
