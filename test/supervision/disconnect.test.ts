// Issue 10 B4: a module that lost its broker connection but whose process lives on was never noticed: it
// stayed `running`, every call to it answered UNAVAILABLE, for good. Now it is restarted after the policy's
// disconnect grace, with exit reason `disconnected`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, gone, waitFor } from '../helpers/gateway.js'

test('issue 10 B4: a module whose connection is gone while its process lives is restarted after the grace, reason disconnected', { timeout: 30_000 }, async (t) => {
  const gw = await startTestGateway({
    modules: [{ name: 'loner', entry: fixture('disconnects'), restart: { disconnectGraceMs: 500 } }],
  })
  t.after(() => gw.stop())
  const instance = gw.gateway.modules.require('loner').instances[0]
  assert.equal(instance?.state.status, 'running')
  const first = instance?.process?.pid ?? 0
  await waitFor('the connection to drop', () => gw.logs.some(l => l.source === 'loner' && l.text === `connection dropped, still alive as ${first}`))
  assert.ok(!gone(first), 'the process lives on without its connection')
  assert.equal(instance?.state.status, 'running', 'within the grace it is still running')

  await waitFor('a restart for the lost connection', () => instance?.state.exits.at(-1)?.reason === 'disconnected' && instance.state.status === 'running' && instance.process?.pid !== first)
  assert.ok(gone(first), 'the disconnected process was killed')
  assert.equal(instance?.state.restarts, 1)
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const list = (await op.call('core', 'list')).result as Array<{ module: string, lastExit: { reason: string } }>
  assert.equal(list.find(m => m.module === 'loner')?.lastExit.reason, 'disconnected')
})
