// Review 3a, finding 2: a module cannot set the keys the uplink vouches for. A hook envelope carrying `seq`
// or `q` (what the uplink stamps on a stored hook, and receivers drop duplicates by) is refused and counted
// as `hooks.dropped.reserved`, stored or not; honest hooks go up as before, each map with every key once.
// A real gateway, a real Mosquitto (TLS, the shipped ACL), and a module publishing its hooks raw.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { decodeCbor } from '../../core/protocol/codec.js'
import { connectOperator, fixture, poll, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { cborItem } from '../helpers/cbor-items.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'

const USERS = { gw: 'gw-secret-12', alice: 'alice-secret-12' }
const FORGED = 3
let upstream: Upstream
let alice: MqttClient
let gw: TestGateway
let local: Operator
const seen: Array<{ topic: string, payload: Buffer }> = []

before(async () => {
  upstream = await startUpstream(USERS)
  alice = await upstream.client('alice')
  alice.on('message', (topic, payload) => { seen.push({ topic, payload: Buffer.from(payload) }) })
  await alice.subscribeAsync('outpost/gw/hooks/#', { qos: 1 })
  gw = await startTestGateway({
    gateway: 'gw',
    modules: [
      { name: 'alpha', entry: fixture('echo') },
      { name: 'forger', entry: fixture('forger'), config: { forged: FORGED } },
    ],
    uplink: {
      url: upstream.url, fleetId: 'gw', username: 'gw', password: USERS.gw, ca: upstream.ca,
      keepaliveSeconds: 5, backoff: { initialMs: 100, maxMs: 1000 },
      hooks: [{ filter: '+/reading', qos: 1, store: true }, { filter: 'alpha/ping', qos: 1, store: true }, { filter: '+/note', qos: 0 }],
    },
  })
  local = await connectOperator(gw.url)
})

after(async () => {
  await local?.end()
  await gw?.stop()
  await alice?.endAsync()
  await upstream?.close()
})

test('hooks carrying seq or q are refused and counted; stored hooks go up with the uplink\'s seq and q, once each', async () => {
  await poll(async () => ((await local.call('uplink', 'stats')).result as any)?.connected === true ? true : undefined, 150)
  for (let i = 0; i < 3; i++) assert.equal((await local.call('alpha', 'emit', { hook: 'ping', data: { genuine: i } })).error, undefined)
  await waitFor('the forger\'s honest reading upstream', () => seen.some(m => m.topic === 'outpost/gw/hooks/forger/reading' && (decodeCbor(m.payload) as any).data?.done === true), 30_000)
  await waitFor('alpha\'s 3 pings upstream', () => seen.filter(m => m.topic === 'outpost/gw/hooks/alpha/ping').length >= 3, 30_000)
  const stats = (await local.call('uplink', 'stats')).result as any
  assert.equal(stats.hooks.dropped.reserved, 2 * FORGED)
  assert.equal(seen.filter(m => m.topic.endsWith('/note')).length, 0, 'no forged note went up')
  const readings = seen.filter(m => !m.topic.endsWith('/note'))
  assert.equal(readings.length, 4, 'alpha\'s 3 pings and the forger\'s honest reading, nothing forged')
  const seqs = new Set<number>()
  for (const { payload } of readings) {
    const item = cborItem(payload)
    // every key once: a map's entry count is what its head says, and its keys as many as its entries
    assert.equal(item.entries?.size, (payload[0] as number) - 0xa0)
    const doc = decodeCbor(payload) as { seq: number, q: string }
    assert.equal(doc.q, stats.queue.id)
    seqs.add(doc.seq)
  }
  assert.equal(seqs.size, 4, 'four different seqs')
})
