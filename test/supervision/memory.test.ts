// Memory budgets with real processes: the sampler stops a module over its budget (also when a forked
// worker is what grows), the kernel's cgroup limit kills one the sampler is told to tolerate, and a
// healthy neighbour answers every call meanwhile.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { detectCgroups } from '../../core/supervisor/cgroups.js'

/** Calls the neighbour until the hog has exited once and is running again; every call must succeed. */
async function neighbourServesUntilRestarted (gw: TestGateway, op: Operator): Promise<number> {
  const hog = gw.gateway.modules.require('hog').instances[0]
  assert.ok(hog)
  let calls = 0
  while (!(hog.state.exits.length > 0 && hog.state.status === 'running')) {
    const reply = await op.call('healthy', 'echo', calls, 2000)
    assert.equal(reply.result, calls, `neighbour call ${calls} failed: ${JSON.stringify(reply.error)}`)
    calls++
    await new Promise(resolve => setTimeout(resolve, 20))
    if (calls > 1500) assert.fail('the hog was never stopped and restarted')
  }
  return calls
}

for (const inWorker of [false, true]) {
  test(`a module growing past its budget${inWorker ? ' in a forked worker' : ''} is stopped with reason over-budget`, async (t) => {
    const gw = await startTestGateway({
      defaults: { memory: { sampleMs: 50, graceMs: 200, kernelFactor: 4 } },
      modules: [{ name: 'hog', entry: fixture('hog'), memoryMiB: 64 }, { name: 'healthy', entry: fixture('echo') }],
    })
    t.after(() => gw.stop())
    const op = await connectOperator(gw.url)
    t.after(() => op.end())
    const breaches: any[] = []
    op.client.on('message', (topic, payload) => { if (topic === 'hooks/core/budget-breach') breaches.push((decodeCbor(payload) as any).data) })
    await op.client.subscribeAsync('hooks/core/budget-breach')
    await op.call('hog', 'grow', { mbPerTick: 4, inWorker })
    const calls = await neighbourServesUntilRestarted(gw, op)
    assert.ok(calls > 0)
    const hog = gw.gateway.modules.require('hog').instances[0]
    assert.equal(hog?.state.exits[0]?.reason, 'over-budget')
    assert.equal(breaches.length, 1)
    assert.equal(breaches[0].module, 'hog')
    assert.equal(breaches[0].limitBytes, 64 * 1024 * 1024)
    assert.ok(breaches[0].measuredBytes > breaches[0].limitBytes)
    assert.equal(breaches[0].action, 'stop')
  })
}

test('the kernel limit kills a module the sampler tolerates, with reason oom', async (t) => {
  const cgroups = detectCgroups()
  if (cgroups.kind === 'none') {
    t.skip(`no writable memory cgroups here: ${cgroups.reason}`)
    return
  }
  const gw = await startTestGateway({
    defaults: { memory: { sampleMs: 250, graceMs: 60_000, kernelFactor: 1 } },
    modules: [{ name: 'hog', entry: fixture('hog'), memoryMiB: 64 }, { name: 'healthy', entry: fixture('echo') }],
  })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  await op.call('hog', 'grow', { mbPerTick: 4 })
  await neighbourServesUntilRestarted(gw, op)
  const exit = gw.gateway.modules.require('hog').instances[0]?.state.exits[0]
  assert.equal(exit?.reason, 'oom')
  assert.equal(exit?.signal, 'SIGKILL')
})
