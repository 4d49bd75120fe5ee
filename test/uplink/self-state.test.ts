// The uplink mirrors every module's state upstream, its own included: the broker's replay of a retained
// `state/<module>` to the uplink's new subscription may come after the live publish that replaced it (the
// uplink's own `starting` after the core said `running`), and must not win.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCbor } from '../../core/protocol/codec.js'
import { fixture, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'

const USERS = { 'gw-s': 'gateway-s-secret', alice: 'alice-secret' }
const MODULES = 8
let upstream: Upstream
let gateway: TestGateway

before(async () => {
  upstream = await startUpstream(USERS)
})

after(async () => {
  await gateway?.stop()
  await upstream?.close()
})

test('upstream, every module is running, the uplink too, and the status counts them all', async () => {
  const retained = new Map<string, any>()
  const watcher = await upstream.client('alice')
  watcher.on('message', (topic, payload) => { if (payload.length > 0) retained.set(topic, decodeCbor(payload)) })
  await watcher.subscribeAsync(['outpost/gw-s/status', 'outpost/gw-s/state/+'], { qos: 1 })
  try {
    gateway = await startTestGateway({
      gateway: 'gw-s',
      modules: Array.from({ length: MODULES }, (_, i) => ({ name: `echo${i}`, entry: fixture('echo'), memoryMiB: 32 })),
      uplink: { url: upstream.url, fleetId: 'gw-s', username: 'gw-s', password: USERS['gw-s'], ca: upstream.ca, operators: [{ user: 'alice', role: 'admin' }] },
    })
    await waitFor('every module running upstream', () => {
      const s = retained.get('outpost/gw-s/status')
      return s?.modules?.total === MODULES + 1 && s.modules.running === MODULES + 1
    }, 20_000)
    // the status is debounced; by now every state the uplink mirrored has arrived too
    assert.equal(retained.get('outpost/gw-s/state/uplink')?.state, 'running')
    for (let i = 0; i < MODULES; i++) assert.equal(retained.get(`outpost/gw-s/state/echo${i}`)?.state, 'running')
  } finally {
    await watcher.endAsync()
  }
})
