// instances: N — each call answered by exactly one live instance, spread fairly; a call held by an
// instance that dies is answered UNAVAILABLE; calls to missing or stopped modules are answered at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'

test('replicas share calls round robin, each call answered once', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'pool', entry: fixture('echo'), instances: 3 }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const replies: unknown[] = []
  op.client.on('message', (topic) => { if (topic.startsWith('reply/')) replies.push(topic) })
  const byPid = new Map<number, number>()
  for (let i = 0; i < 30; i++) {
    const who = (await op.call('pool', 'whoami')).result as { pid: number }
    byPid.set(who.pid, (byPid.get(who.pid) ?? 0) + 1)
  }
  assert.equal(byPid.size, 3)
  assert.deepEqual([...byPid.values()], [10, 10, 10])
  assert.equal(replies.length, 30)
})

test('a call in flight to an instance that dies gets UNAVAILABLE; the other instance keeps serving', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'pool', entry: fixture('echo'), instances: 2 }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const pending = op.call('pool', 'slow', 30_000, 10_000)
  // the call is in flight once an instance has started handling it
  const started = await waitFor('an instance to start the slow call', () => gw.logs.find(l => l.source === 'pool' && l.text.startsWith('slow call started')))
  const holder = gw.gateway.modules.require('pool').instances[started.instance ?? -1]
  assert.ok(holder?.process)
  holder.process.signal('SIGKILL')
  const reply = await pending
  assert.equal(reply.error?.code, 'UNAVAILABLE')
  assert.match(reply.error?.message ?? '', new RegExp(`^pool\\.slow: instance pool\\.${started.instance} stopped before replying`))
  // the reason is whichever the core saw first: the socket closing or the process exiting
  const details = reply.error?.details as { module: string, instance: string, reason: string } | undefined
  assert.deepEqual({ ...details, reason: undefined }, { module: 'pool', instance: `pool.${started.instance}`, reason: undefined })
  assert.match(details?.reason ?? '', /^(disconnect|error|signal)$/, `reason: ${details?.reason}`)
  for (let i = 0; i < 5; i++) assert.equal((await op.call('pool', 'echo', i)).result, i)
})

test('issue 10 B2: a module the manifest lacks is NO_SUCH_MODULE; a known but stopped one is UNAVAILABLE with its state, at once', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }, { name: 'idle', entry: fixture('echo'), enabled: false }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const missing = await op.call('ghost', 'anything', null, 2000)
  assert.deepEqual(missing.error, { code: 'NO_SUCH_MODULE', message: 'ghost.anything: the gateway has no module named "ghost"' })
  const stopped = await op.call('idle', 'echo', 1, 2000)
  assert.deepEqual(stopped.error, { code: 'UNAVAILABLE', message: 'idle.echo: module idle has no live instance (it is stopped)', details: { module: 'idle', state: 'stopped' } })
})
