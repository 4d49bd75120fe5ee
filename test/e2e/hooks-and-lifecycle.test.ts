// Hooks between module processes, the demo's control loop, and a clean stop that leaves no process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor, poll, gone } from '../helpers/gateway.js'
import { decodeCbor } from '../../core/protocol/codec.js'

test('hooks reach wildcard subscribers in other processes with CBOR values and the emitting instance', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }, { name: 'beta', entry: fixture('echo') }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const raw: Array<{ topic: string, message: any }> = []
  op.client.on('message', (topic, payload) => { if (topic.startsWith('hooks/')) raw.push({ topic, message: decodeCbor(payload) }) })
  await op.client.subscribeAsync('hooks/alpha/#')
  const data = { celsius: 21.5, ok: true, tags: ['a'] }
  assert.equal((await op.call('alpha', 'emit', { hook: 'ping', data })).result, true)
  await waitFor('the operator to receive the hook', () => raw.length > 0)
  const received = await poll(async () => {
    const seen = (await op.call('beta', 'seen')).result as unknown[]
    return seen.length > 0 ? seen : undefined
  })
  assert.deepEqual(received, [{ data, from: 'alpha', instance: 0 }])
  assert.equal(raw[0]?.topic, 'hooks/alpha/ping')
  assert.deepEqual(raw[0]?.message.data, data)
  assert.equal(raw[0]?.message.instance, 0)
  assert.equal(typeof raw[0]?.message.ts, 'number', 'a 64-bit integer decodes as a number')
  const undeclared = await op.call('alpha', 'emit', { hook: 'nope', data: 1 })
  assert.equal(undeclared.error?.code, 'HOOK_UNDECLARED')
})

test('the demo loop: the thermostat switches the heater relay from the sensor readings', async (t) => {
  const gw = await startTestGateway({
    modules: [
      { name: 'room', entry: 'modules/sim-room', config: { start: 15, stepMs: 50 } },
      { name: 'temperature', entry: 'drivers/ds18b20', after: ['room'], config: { intervalMs: 250 } },
      { name: 'heater', entry: 'drivers/gpio-output', config: { line: 'GPIO17' } },
      { name: 'thermostat', entry: 'modules/thermostat', after: ['temperature', 'heater'], config: { sensor: 'temperature', relay: 'heater', setpoint: 21 } },
    ],
  })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  // the thermostat records its decision once the relay has answered: wait on its view, then check the relay
  const status = await poll(async () => {
    const s = (await op.call('thermostat', 'status')).result as { heating: boolean | null, celsius: number }
    return s.heating === true ? s : undefined
  })
  assert.deepEqual((await op.call('heater', 'get')).result, { value: 1 })
  assert.ok(status.celsius < 21)
})

test('stopping the gateway stops every module process', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }, { name: 'beta', entry: fixture('echo'), instances: 2 }] })
  let stopped = false
  t.after(() => (stopped ? undefined : gw.stop()))
  const states = gw.gateway.modules.list().flatMap(m => m.instances.map(i => `${m.loaded.spec.name}.${i.instance}:${i.state.status}`))
  const pids = gw.gateway.modules.list().flatMap(m => m.instances.map(i => i.process?.pid)).filter((p): p is number => p !== undefined)
  assert.equal(pids.length, 3, `instances: ${states.join(', ')}`)
  stopped = true
  await gw.stop()
  for (const pid of pids) assert.ok(gone(pid), `process ${pid} still exists`)
})
