// Review 3a, finding 1: what goes up to the fleet is bounded. A real gateway behind a slow link (a proxy
// carrying gateway → upstream at 512 KiB/s, reading only as fast as it forwards, so the gateway's socket backs
// up) to a real Mosquitto: replies that find more than maxBacklogBytes waiting unsent are replaced by a short
// UNAVAILABLE, and the uplink is never restarted; a reply
// over maxReplyBytes is answered TOO_LARGE with its size and the cap; one operator holds at most
// maxInFlightPerOperator of the in-flight slots, so a viewer's slow requests leave room for an admin.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectOperator, fixture, poll, startTestGateway } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { fleetOperator, uplinkConnected, uplinkInstance, uplinkStats } from '../helpers/fleet.js'
import type { FleetOperator } from '../helpers/fleet.js'
import { slowLink } from '../helpers/slow-link.js'
import type { SlowLink } from '../helpers/slow-link.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'

const USERS = { gw: 'gw-secret-12', alice: 'alice-secret-12', bob: 'bob-secret-12' }
const RATE = 512 * 1024 // bytes/s, gateway → upstream
const MAX_BACKLOG = 65_536
const MAX_REPLY = 1_048_576
let upstream: Upstream
let link: SlowLink
let gw: TestGateway
let local: Operator
let alice: FleetOperator
let bob: FleetOperator


before(async () => {
  upstream = await startUpstream(USERS)
  link = await slowLink(upstream.port, RATE)
  gw = await startTestGateway({
    gateway: 'gw',
    modules: [
      { name: 'alpha', entry: fixture('echo') },
      // 300 lines of 8000 characters: core.logs answers of up to ≈ 2 MiB (2 Mi characters of text at most)
      { name: 'chatty', entry: fixture('biglog'), config: { count: 300, bytes: 8000 } },
    ],
    uplink: {
      url: `mqtts://127.0.0.1:${link.port}`, fleetId: 'gw', username: 'gw', password: USERS.gw, ca: upstream.ca,
      keepaliveSeconds: 60, backoff: { initialMs: 100, maxMs: 1000 },
      operators: [{ user: 'alice', role: 'admin' }, { user: 'bob', role: 'viewer' }],
      expose: [{ module: 'alpha', methods: ['slow'], role: 'viewer' }],
      limits: { requestsPerSecond: 100, burst: 100, maxBacklogBytes: MAX_BACKLOG, maxReplyBytes: MAX_REPLY, replyBytesPerSecond: 1_073_741_824, maxReplyBytesPerOperator: 67_108_864, maxReplyBytesInFlight: 67_108_864 },
    },
  })
  local = await connectOperator(gw.url)
  await uplinkConnected(local)
  alice = await fleetOperator(await upstream.client('alice'), 'alice')
  bob = await fleetOperator(await upstream.client('bob'), 'bob')
  await poll(async () => ((await local.call('core', 'logs', { module: 'chatty', lines: 1000 })).result as any)?.lines?.length >= 250 ? true : undefined, 100)
})

after(async () => {
  await alice?.end()
  await bob?.end()
  await local?.end()
  await gw?.stop()
  await link?.close()
  await upstream?.close()
})

test('one operator holds at most maxInFlightPerOperator (8) slots: the 9th is refused, an admin still gets through', async () => {
  const slow = Array.from({ length: 8 }, () => bob.call('gw', 'alpha', 'slow', 3000, 20_000))
  const ninth = await bob.call('gw', 'alpha', 'slow', 10, 20_000)
  assert.equal(ninth.error?.code, 'UNAVAILABLE')
  assert.match(ninth.error?.message ?? '', /^fleet operator bob has 8 requests in flight \(limit 8 per operator\)/)
  const list = await alice.call('gw', 'core', 'list', null, 20_000)
  assert.equal(list.error, undefined, 'the admin is not crowded out')
  assert.deepEqual((await Promise.all(slow)).map(r => r.result), Array(8).fill(3000))
  assert.equal((await uplinkStats(local)).downlink.dropped.operatorBusy, 1)
})

test('a reply over maxReplyBytes is answered TOO_LARGE, with its size and the cap', async () => {
  const big = await bob.call('gw', 'core', 'logs', { module: 'chatty', lines: 1000 }, 60_000)
  assert.equal(big.error?.code, 'TOO_LARGE')
  const details = (big.error as any).details
  assert.equal(details.limit, MAX_REPLY)
  assert.ok(details.bytes > MAX_REPLY, `${details.bytes} bytes`)
  assert.match(big.error?.message ?? '', new RegExp(`^the reply is ${details.bytes} bytes, more than the uplink sends \\(maxReplyBytes ${MAX_REPLY}\\)`))
  const small = await bob.call('gw', 'core', 'logs', { module: 'chatty', lines: 2 }, 60_000)
  assert.equal(small.result.lines.length, 2)
  assert.equal((await uplinkStats(local)).downlink.replaced.tooLarge, 1)
})

test('past maxBacklogBytes waiting unsent, an answer ready to go is replaced by UNAVAILABLE; the uplink is never restarted', async () => {
  const restartsBefore = (await uplinkInstance(local)).restarts
  // 8 answers of ≈ 950 KB at once: more than the link carries for seconds
  const answers = await Promise.all(Array.from({ length: 8 }, () => bob.call('gw', 'core', 'logs', { module: 'chatty', lines: 118 }, 120_000)))
  // 7.6 MB asked of the core at once: when the uplink reads them slower than they come, the broker drops what
  // passes its 4 MiB backlog to the uplink, and answers those itself (docs/protocol.md): a limit too
  const byBroker = /^the reply to this call was dropped: more than 4194304 bytes wait unsent to this client/
  for (const a of answers) {
    if (a.error === undefined) assert.equal(a.result.lines.length, 118)
    else {
      assert.equal(a.error.code, 'UNAVAILABLE')
      if (!byBroker.test(a.error.message)) assert.match(a.error.message, /^the reply \(\d+ bytes\) was not sent: \d+ bytes wait unsent to the upstream \(limit 65536\), the link is slower than what is asked of it/)
    }
  }
  const replaced = answers.filter(a => a.error !== undefined && !byBroker.test(a.error.message)).length
  assert.ok(replaced > 0 && answers.some(a => a.error === undefined), `${replaced} of 8 replaced by the uplink`)
  assert.equal((await uplinkStats(local)).downlink.replaced.backlog, replaced)
  assert.equal((await uplinkInstance(local)).restarts, restartsBefore)
  await poll(async () => (await uplinkStats(local)).backlogBytes <= MAX_BACKLOG ? true : undefined, 600)
  assert.equal((await alice.call('gw', 'core', 'list', null, 60_000)).error, undefined, 'answering again once drained')
})
