// gpio-input and gpio-output driver processes on the simulated board: the test plays the outside world
// through the simulated line files, exactly as the drivers' peers (a plant, a button) would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { startTestGateway, connectOperator, waitFor } from '../helpers/gateway.js'
import { simRead, simWrite } from '../../drivers/lib/gpio/sim.js'
import { decodeCbor } from '../../core/protocol/codec.js'

test('gpio-output: set, get, toggle, pulse, bad arguments, and the safe state when it stops', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'relay', entry: 'drivers/gpio-output', config: { line: 'pin11', activeLow: true, safeState: 0 } }] })
  let stopped = false
  t.after(() => (stopped ? undefined : gw.stop()))
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const simRoot = path.join(gw.gateway.runtimeDir, 'sim')
  // pin11 is GPIO17; active-low: logical 0 is a physical 1
  assert.equal(simRead(simRoot, 'sim-gpio', 17), 1)
  assert.deepEqual((await op.call('relay', 'set', { value: 1 })).result, { value: 1 })
  assert.equal(simRead(simRoot, 'sim-gpio', 17), 0)
  assert.deepEqual((await op.call('relay', 'get')).result, { value: 1 })
  assert.deepEqual((await op.call('relay', 'toggle')).result, { value: 0 })
  assert.deepEqual((await op.call('relay', 'pulse', { ms: 100 })).result, { value: 1 })
  await waitFor('the pulse to end', () => simRead(simRoot, 'sim-gpio', 17) === 1)
  const bad = await op.call('relay', 'set', { value: 'on' })
  assert.equal(bad.error?.code, 'BAD_ARGUMENTS')
  await op.call('relay', 'set', { value: 1 })
  assert.equal(simRead(simRoot, 'sim-gpio', 17), 0)
  await gw.gateway.stop()
  assert.equal(simRead(simRoot, 'sim-gpio', 17), 1, 'the relay returned to its safe state (logical 0, active-low)')
  stopped = true
  await gw.stop()
})

test('gpio-input: debounced edges as hooks, active-low applied', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'button', entry: 'drivers/gpio-input', config: { line: 'GPIO27', activeLow: true, debounceMs: 30, name: 'door' } }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const edges: any[] = []
  op.client.on('message', (topic, payload) => { if (topic === 'hooks/button/edge/door') edges.push((decodeCbor(payload) as any).data) })
  await op.client.subscribeAsync('hooks/button/#')
  const simRoot = path.join(gw.gateway.runtimeDir, 'sim')
  // the line starts low, which active-low reads as pressed: release it first
  simWrite(simRoot, 'sim-gpio', 27, 1)
  await waitFor('the release edge', () => edges.find(e => e.edge === 'falling'))
  edges.length = 0
  // a bouncing press: the level settles at 0 (pressed)
  for (const level of [0, 1, 0, 1, 0] as const) simWrite(simRoot, 'sim-gpio', 27, level)
  await waitFor('one debounced press', () => edges.find(e => e.edge === 'rising'))
  simWrite(simRoot, 'sim-gpio', 27, 1)
  await waitFor('the release', () => edges.find(e => e.edge === 'falling'))
  assert.deepEqual(edges.map(e => [e.edge, e.value]), [['rising', 1], ['falling', 0]])
  assert.deepEqual((await op.call('button', 'get')).result, { value: 0, edges: 3 })
})
