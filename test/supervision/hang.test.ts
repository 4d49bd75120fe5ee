// A module whose event loop stops is found by its missed keepalive and restarted with reason `hung`,
// while a healthy neighbour answers every call.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'

test('a spinning module is killed as hung and restarted; the neighbour never fails a call', async (t) => {
  const gw = await startTestGateway({
    defaults: { keepaliveSeconds: 1 },
    modules: [{ name: 'spinner', entry: fixture('echo') }, { name: 'healthy', entry: fixture('echo') }],
  })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const spinner = gw.gateway.modules.require('spinner').instances[0]
  assert.ok(spinner)
  const firstPid = spinner.process?.pid
  assert.equal((await op.call('spinner', 'spin')).result, 'spinning')
  let calls = 0
  while (!(spinner.state.exits.length > 0 && spinner.state.status === 'running')) {
    const reply = await op.call('healthy', 'echo', calls, 2000)
    assert.equal(reply.result, calls, `call ${calls} to the neighbour failed: ${JSON.stringify(reply.error)}`)
    calls++
    await new Promise(resolve => setTimeout(resolve, 20))
    if (calls > 1000) assert.fail('spinner was never restarted')
  }
  assert.equal(spinner.state.exits[0]?.reason, 'hung')
  assert.equal(spinner.state.exits[0]?.signal, 'SIGKILL')
  assert.notEqual(spinner.process?.pid, firstPid)
  assert.ok(calls > 10)
  await waitFor('the restarted spinner to answer', () => spinner.state.status === 'running')
  assert.equal((await op.call('spinner', 'echo', 'back')).result, 'back')
})
