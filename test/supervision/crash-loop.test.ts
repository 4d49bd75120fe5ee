// A module that crashes at start reaches `failed` after the configured tries and stays there, while a
// healthy neighbour answers every call; an operator reset starts it again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture } from '../helpers/gateway.js'
import { decodeCbor } from '../../core/protocol/codec.js'

test('crash at start → failed after the configured tries, and it stays failed', async (t) => {
  const gw = await startTestGateway({
    modules: [
      { name: 'broken', entry: fixture('crash-at-start'), restart: { backoff: { initialMs: 20, maxMs: 100 }, intensity: { maxRestarts: 3, windowMs: 60_000 } } },
      { name: 'healthy', entry: fixture('echo') },
    ],
  })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const retained: any[] = []
  op.client.on('message', (topic, payload) => { if (topic === 'state/broken') retained.push(decodeCbor(payload)) })
  await op.client.subscribeAsync('state/broken')

  const broken = gw.gateway.modules.require('broken').instances[0]
  assert.ok(broken)
  // startAll settles when broken is failed: no waiting needed, but the neighbour must serve throughout
  assert.equal(broken.state.status, 'failed')
  for (let i = 0; i < 20; i++) assert.equal((await op.call('healthy', 'echo', i)).result, i)
  assert.equal(broken.state.restarts, 3)
  assert.deepEqual(broken.state.exits.map(e => e.reason), ['exit-code', 'exit-code', 'exit-code', 'exit-code', 'crash-loop'])
  assert.match(broken.state.failure ?? '', /crash loop: 4 failures/)
  assert.ok(gw.logs.some(l => l.source === 'broken' && l.text === 'cannot open /dev/ttyNOPE: ENOENT' && l.level === 'error'))

  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(broken.state.status, 'failed', 'a failed module is not restarted by itself')
  assert.equal(broken.state.restarts, 3)
  const last = retained.at(-1)
  assert.equal(last?.state, 'failed')
  assert.equal(last?.instances[0].lastExit.reason, 'crash-loop')
  const call = await op.call('broken', 'echo', 1, 2000)
  assert.deepEqual(call.error, { code: 'UNAVAILABLE', message: 'broken.echo: module broken has no live instance (it is failed)', details: { module: 'broken', state: 'failed' } })

  broken.reset()
  assert.equal(broken.state.status, 'starting')
})
