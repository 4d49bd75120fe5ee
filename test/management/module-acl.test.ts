// What a module process may not do, tried by a real module process with its own real credential.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import mqtt from 'mqtt'
import { startTestGateway, connectOperator, fixture, poll, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { auditRecords, managementFixture } from './helpers.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({
    modules: [
      { name: 'alpha', entry: fixture('echo') },
      { name: 'intruder', entry: managementFixture('intruder') },
    ],
  })
  op = await connectOperator(gw.url)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

const intruder = () => gw.gateway.modules.require('intruder').instances[0]
const alphaPid = (): number | undefined => gw.gateway.modules.require('alpha').instances[0]?.process?.pid

async function attempt (action: 'publish' | 'subscribe', topic: string, data?: unknown): Promise<string> {
  const reply = await op.call('intruder', 'try', { action, topic, data }, 10_000)
  return reply.result as string
}

/** the intruder was disconnected for publishing `topic`, and restarted as a new process */
async function disconnectedFor (topic: string, before: number | undefined): Promise<void> {
  await waitFor(`a denial of ${topic}`, () => gw.logs.find(l => l.text.includes(`denied publish ${topic}`) && l.text.includes('client=intruder.0')))
  await waitFor('the intruder to be back', () => intruder()?.state.status === 'running' && intruder()?.process?.pid !== before)
}

test('a module cannot subscribe to another module\'s requests (so cannot answer for it) or replies', async () => {
  assert.equal(await attempt('subscribe', 'rpc/alpha/+'), 'refused')
  assert.equal(await attempt('subscribe', 'rpc/alpha/echo'), 'refused')
  assert.equal(await attempt('subscribe', `reply/${op.clientId}`), 'refused')
  assert.equal(await attempt('subscribe', 'hooks/#'), 'granted')
  assert.ok(gw.logs.some(l => /denied subscribe rpc\/alpha\/\+/.test(l.text)))
  assert.equal((await op.call('alpha', 'echo', 1)).result, 1)
})

test('issue 10 C: a module may subscribe to # and +/+, and gets through them only what it may read, on both delivery paths', async () => {
  assert.equal(await attempt('subscribe', '#'), 'granted')
  assert.equal(await attempt('subscribe', '+/+'), 'granted')
  assert.equal(await attempt('subscribe', '+/+/+'), 'granted')
  await op.call('intruder', 'try', { action: 'heard' })
  // another module's request and its reply (direct path), a request to core and its reply (Aedes's path:
  // requests to core are stamped there, and the core answers in-process)
  assert.equal((await op.call('alpha', 'echo', 2)).result, 2)
  assert.equal(Array.isArray((await op.call('core', 'list')).result), true)
  // a topic outside the bus's families, QoS 0 (direct path) and QoS 1 (Aedes's path)
  await op.client.publishAsync('site/a', 'x', { qos: 0 })
  await op.client.publishAsync('site/b', 'x', { qos: 1 })
  // and what a module may read, both ways: the last message it must get
  await op.client.publishAsync('hooks/alpha/zero', 'x', { qos: 0 })
  await op.client.publishAsync('hooks/alpha/one', 'x', { qos: 1 })
  let heard: string[] = []
  await poll(async () => {
    heard = heard.concat((await op.call('intruder', 'try', { action: 'heard' })).result as string[])
    return heard.includes('hooks/alpha/zero') && heard.includes('hooks/alpha/one') ? true : undefined
  })
  assert.deepEqual(heard.filter(t => !t.startsWith('hooks/') && !t.startsWith('state/') && !t.startsWith('presence/')), [],
    'no request, no reply and nothing outside what a module may read')
})

test('a module cannot publish another module\'s hooks: dropped, the module disconnected, subscribers untouched', async () => {
  const seen: string[] = []
  const onMessage = (topic: string, payload: Buffer): void => {
    if (topic === 'hooks/alpha/ping') seen.push(String((decodeCbor(payload) as { data: unknown }).data))
  }
  op.client.on('message', onMessage)
  await op.client.subscribeAsync('hooks/alpha/ping')
  const before = intruder()?.process?.pid
  assert.equal(await attempt('publish', 'hooks/alpha/ping', 'forged'), 'sent')
  await disconnectedFor('hooks/alpha/ping', before)
  // a real ping from alpha, after the forged one: the first (and only) one the subscriber sees
  await op.call('alpha', 'emit', { hook: 'ping', data: 'real' })
  await waitFor('the real ping', () => seen.length > 0)
  op.client.off('message', onMessage)
  assert.deepEqual(seen, ['real'])
})

test('a module cannot answer a call it was not given: its forged reply goes nowhere, the real one arrives', async () => {
  const id = `forgery-${Date.now()}`
  const real = op.rawRequest('rpc/alpha/slow', { id, reply: `reply/${op.clientId}`, args: 400 })
  const before = intruder()?.process?.pid
  assert.equal(await attempt('publish', `reply/${op.clientId}`, { id, result: 'forged' }), 'sent')
  assert.deepEqual(await real, { id, result: 400 })
  // not a denial the connection pays for: a late or duplicate reply from a slow module looks the same
  assert.equal(intruder()?.process?.pid, before)
  assert.equal(intruder()?.state.status, 'running')
})

test('a module cannot call core management methods', async () => {
  const pid = alphaPid()
  const before = intruder()?.process?.pid
  assert.equal(await attempt('publish', 'rpc/core/stop', { module: 'alpha' }), 'sent')
  await disconnectedFor('rpc/core/stop', before)
  assert.equal(alphaPid(), pid)
  assert.equal(gw.gateway.modules.require('alpha').instances[0]?.state.status, 'running')
  const denied = await waitFor('the audit record', () => auditRecords(gw.dir).find(r => r.result === 'denied' && r.op === 'stop'))
  assert.deepEqual(denied.who, { kind: 'module', clientId: 'intruder.0' })
})

test('a module cannot connect with the credential of its previous process', async () => {
  const pid = intruder()?.process?.pid
  const secret = (await op.call('intruder', 'try', { action: 'secret' })).result
  assert.equal(typeof secret, 'string')
  const restarted = await op.call('core', 'restart', { module: 'intruder' }, 15_000)
  assert.equal((restarted.result as { state: string }).state, 'running')
  assert.notEqual(intruder()?.process?.pid, pid)
  const code = await mqtt.connectAsync(gw.url, { protocolVersion: 4, clientId: 'intruder.0', username: 'intruder.0', password: secret as string, reconnectPeriod: 0 }, false)
    .then(async client => { await client.endAsync(); return 0 }, (err: { code?: number }) => err.code)
  assert.equal(code, 4)
  assert.ok(gw.logs.some(l => /wrong or stale credential for module intruder\.0/.test(l.text)))
  assert.equal(intruder()?.state.status, 'running')
})
