// A clean stop of the gateway, the uplink with it, says nothing at warning level (review: the uplink warned
// "client disconnecting" on every stop); losing the upstream still warns.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'

const USERS = { 'gw-q': 'gateway-q-secret', alice: 'alice-secret' }
const upstreams: Upstream[] = []

after(async () => { for (const upstream of upstreams) await upstream.close() })

/** a gateway whose uplink is connected upstream, with a module's hooks streaming up and its state mirrored */
async function connectedGateway (): Promise<{ gateway: TestGateway, upstream: Upstream }> {
  const upstream = await startUpstream(USERS)
  upstreams.push(upstream)
  const gateway = await startTestGateway({
    gateway: 'gw-q',
    modules: [{ name: 'ticker', entry: fixture('ticker'), config: { everyMs: 1 } }],
    uplink: { url: upstream.url, fleetId: 'gw-q', username: 'gw-q', password: USERS['gw-q'], ca: upstream.ca, operators: [{ user: 'alice', role: 'admin' }], hooks: [{ filter: 'ticker/tick', qos: 1 }] },
  })
  await waitFor('the uplink connected', () => gateway.logs.some(l => l.source === 'uplink' && /^connected to /.test(l.text)))
  return { gateway, upstream }
}

test('review: the gateway stops with its uplink connected upstream: no warning from the uplink', async () => {
  // the ticker's state (stopped) reaches the uplink as it closes: mqtt.js, ending, refused it with an 'error'
  const { gateway } = await connectedGateway()
  await gateway.stop()
  const uplink = gateway.logs.filter(l => l.source === 'uplink')
  assert.ok(uplink.length > 0, 'its lines are collected')
  assert.deepEqual(uplink.filter(l => l.level === 'warn' || l.level === 'error').map(l => l.text), [])
})

test('losing the upstream still warns', async (t) => {
  const { gateway, upstream } = await connectedGateway()
  t.after(() => gateway.stop())
  await upstream.close()
  await waitFor('the warning', () => gateway.logs.some(l => l.source === 'uplink' && l.level === 'warn' && /^lost mqtts:/.test(l.text)))
})
