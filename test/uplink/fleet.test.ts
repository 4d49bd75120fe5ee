// Two gateways on one upstream (Debian mosquitto, TLS, password file, the shipped ACL example): each managed
// through it by fleet operators with the role its own manifest gives them, audited with the fleet identity; a
// gateway cannot publish under the other's prefix; bad input from upstream is answered or dropped and counted.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { connectOperator, fixture, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { fleetOperator } from '../helpers/fleet.js'
import type { FleetOperator } from '../helpers/fleet.js'
import { ACL_EXAMPLE, startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'
import { auditRecords } from '../management/helpers.js'

// mallory: an operator the upstream knows (another part of the fleet), with no role on either gateway
const USERS = { 'gw-a': 'gateway-a-secret', 'gw-b': 'gateway-b-secret', alice: 'alice-secret', bob: 'bob-secret', mallory: 'mallory-secret' }
let upstream: Upstream
const gateways: Record<string, TestGateway> = {}
const local: Record<string, Operator> = {}
let alice: FleetOperator
let bob: FleetOperator
const statuses = new Map<string, any>()
/** each gateway's last status as it came */
const rawStatuses = new Map<string, Buffer>()

function uplinkSection (fleetId: 'gw-a' | 'gw-b'): Record<string, unknown> {
  return {
    url: upstream.url,
    fleetId,
    username: fleetId,
    password: USERS[fleetId],
    ca: upstream.ca,
    keepaliveSeconds: 5,
    backoff: { initialMs: 100, maxMs: 1000 },
    hooks: [{ filter: 'alpha/ping', qos: 1, store: true }, { filter: 'alpha/edge/+', qos: 0 }],
    operators: [{ user: 'alice', role: 'admin' }, { user: 'bob', role: 'viewer' }],
    expose: [{ module: 'alpha', methods: ['echo'], role: 'viewer' }, { module: 'alpha', methods: ['slow'] }],
    limits: { maxRequestBytes: 4096, requestsPerSecond: 50, burst: 50, maxInFlight: 4 },
  }
}

const stats = async (name: string): Promise<any> => (await local[name]?.call('uplink', 'stats'))?.result

before(async () => {
  // the shipped ACL, and mallory allowed what any fleet operator is
  const acl = `${readFileSync(ACL_EXAMPLE, 'utf8')}\nuser mallory\ntopic write outpost/+/rpc/+/+/mallory\ntopic read outpost/+/reply/mallory/#\n`
  upstream = await startUpstream(USERS, { acl })
  for (const name of ['gw-a', 'gw-b'] as const) {
    gateways[name] = await startTestGateway({ gateway: name, modules: [{ name: 'alpha', entry: fixture('echo') }], uplink: uplinkSection(name) })
    local[name] = await connectOperator(gateways[name].url)
  }
  alice = await fleetOperator(await upstream.client('alice'), 'alice')
  bob = await fleetOperator(await upstream.client('bob'), 'bob')
  alice.client.on('message', (topic, payload) => {
    const m = /^outpost\/([^/]+)\/status$/.exec(topic)
    if (m !== null && payload.length > 0) {
      statuses.set(m[1] as string, decodeCbor(payload))
      rawStatuses.set(m[1] as string, payload)
    }
  })
  await alice.client.subscribeAsync('outpost/+/status', { qos: 1 })
})

after(async () => {
  await alice?.end()
  await bob?.end()
  for (const op of Object.values(local)) await op.end()
  for (const gw of Object.values(gateways)) await gw.stop()
  await upstream?.close()
})

test('each gateway says it is online, retained, with its version and module counts', async () => {
  for (const name of ['gw-a', 'gw-b']) {
    const status = await waitFor(`${name} online with both modules running`, () => {
      const s = statuses.get(name)
      return s?.state === 'online' && s.modules?.running === 2 ? s : undefined
    }, 20_000)
    assert.equal(status.fleetId, name)
    assert.match(status.version, /^\d+\.\d+\.\d+/)
    assert.equal(status.modules.total, 2) // alpha and the uplink itself
    // times are CBOR integers (0x1b: 8 bytes), as docs/fleet.md says, not float64
    const raw = rawStatuses.get(name) as Buffer
    assert.ok(raw.includes(Buffer.from([0x62, ...Buffer.from('ts'), 0x1b])), `ts is a uint64: ${raw.toString('hex')}`)
    assert.ok(raw.includes(Buffer.from([0x65, ...Buffer.from('since'), 0x1b])), `since is a uint64: ${raw.toString('hex')}`)
  }
})

test('a fleet admin manages each gateway through the upstream; the audit log names the fleet operator', async () => {
  for (const name of ['gw-a', 'gw-b']) {
    const list = await alice.call(name, 'core', 'list')
    assert.equal(list.error, undefined, JSON.stringify(list.error))
    assert.deepEqual(list.result.map((m: { module: string }) => m.module).sort(), ['alpha', 'uplink'])
  }
  const restarted = await alice.call('gw-a', 'core', 'restart', { module: 'alpha' })
  assert.equal(restarted.error, undefined, JSON.stringify(restarted.error))
  const record = await waitFor('the audit record', () => auditRecords(gateways['gw-a']?.dir as string).find(r => r.op === 'restart'))
  assert.deepEqual(record?.who, { kind: 'fleet', role: 'admin', user: 'alice', clientId: 'uplink.0' })
  assert.equal(record?.result, 'ok')
  assert.equal(auditRecords(gateways['gw-b']?.dir as string).length, 0, 'gw-b saw no change')
})

test('a fleet viewer reads but cannot change, refused by core and audited as the fleet viewer', async () => {
  const status = await bob.call('gw-b', 'core', 'status', { module: 'alpha' })
  assert.equal(status.error, undefined)
  const stop = await bob.call('gw-b', 'core', 'stop', { module: 'alpha' })
  assert.equal(stop.error?.code, 'NOT_AUTHORISED')
  const record = await waitFor('the audit record', () => auditRecords(gateways['gw-b']?.dir as string).find(r => r.op === 'stop'))
  assert.deepEqual(record?.who, { kind: 'fleet', role: 'viewer', user: 'bob', clientId: 'uplink.0' })
  assert.equal(record?.result, 'error')
  const alpha = await local['gw-b']?.call('core', 'status', { module: 'alpha' })
  assert.equal((alpha?.result as { state: string }).state, 'running')
})

test('only exposed module methods can be called, and only with the role they need', async () => {
  assert.deepEqual((await bob.call('gw-a', 'alpha', 'echo', { x: 1 })).result, { x: 1 })
  const hidden = await alice.call('gw-a', 'alpha', 'whoami')
  assert.equal(hidden.error?.code, 'NOT_AUTHORISED')
  assert.match(hidden.error?.message ?? '', /alpha\.whoami is not exposed/)
  const adminOnly = await bob.call('gw-a', 'alpha', 'slow', 1)
  assert.equal(adminOnly.error?.code, 'NOT_AUTHORISED')
  assert.match(adminOnly.error?.message ?? '', /bob is a viewer; alpha\.slow needs admin/)
  assert.equal((await alice.call('gw-a', 'alpha', 'slow', 1)).result, 1)
})

test('stored hooks go up with QoS 1 and a sequence number; state and presence are mirrored, retained', async () => {
  const received: any[] = []
  const watcher = await upstream.client('bob')
  watcher.on('message', (topic, payload) => { if (topic === 'outpost/gw-a/hooks/alpha/ping') received.push(decodeCbor(payload)) })
  await watcher.subscribeAsync('outpost/gw-a/hooks/alpha/ping', { qos: 1 })
  const retained = new Map<string, any>()
  const mirror = await upstream.client('bob')
  mirror.on('message', (topic, payload) => retained.set(topic, decodeCbor(payload)))
  await mirror.subscribeAsync(['outpost/gw-a/state/+', 'outpost/gw-a/presence/+/+'], { qos: 1 })
  try {
    await local['gw-a']?.call('alpha', 'burst', { hook: 'ping', count: 50, bytes: 8 })
    await waitFor('50 hooks upstream', () => received.length >= 50)
    const seqs = received.map(r => r.seq)
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order')
    assert.equal(new Set(seqs).size, 50)
    assert.match(received[0].q, /^[0-9a-f]{16}$/)
    assert.deepEqual(received.map(r => Buffer.from(r.data).readUInt32BE(0)), Array.from({ length: 50 }, (_, i) => i))
    // every one acknowledged by the upstream (QoS 1), so the queue holds none
    let queue: any
    for (let i = 0; i < 100 && queue?.records !== 0; i++) {
      queue = (await stats('gw-a')).queue
      if (queue.records !== 0) await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert.equal(queue.records, 0)
    assert.equal(queue.acked, queue.lastSeq)
    await waitFor('state and presence mirrored', () => retained.get('outpost/gw-a/state/alpha')?.state === 'running' && retained.get('outpost/gw-a/presence/alpha/0')?.state === 'ready')
  } finally {
    await watcher.endAsync()
    await mirror.endAsync()
  }
})

test('a gateway cannot publish under another gateway\'s prefix (the ACL example)', async () => {
  const before = (await stats('gw-b')).downlink.received
  const impostor = await upstream.client('gw-a', { clientId: 'impostor-a' })
  try {
    await impostor.publishAsync('outpost/gw-b/status', encodeCbor({ state: 'offline' }), { qos: 1, retain: true })
    await impostor.publishAsync('outpost/gw-b/rpc/core/stop/alice', encodeCbor({ id: 1, reply: 'outpost/gw-b/reply/alice/x', args: { module: 'alpha' } }), { qos: 1 })
    // an operator cannot speak for another one either
    await bob.client.publishAsync('outpost/gw-b/rpc/core/stop/alice', encodeCbor({ id: 2, reply: 'outpost/gw-b/reply/alice/x', args: { module: 'alpha' } }), { qos: 1 })
    // a request that does pass the ACL, after them: once it is answered, the refused ones would have arrived
    assert.equal((await alice.call('gw-b', 'core', 'list')).error, undefined)
    assert.equal((await stats('gw-b')).downlink.received, before + 1, 'only alice\'s own request reached gw-b')
    assert.equal(statuses.get('gw-b')?.state, 'online')
    const alpha = await local['gw-b']?.call('core', 'status', { module: 'alpha' })
    assert.equal((alpha?.result as { state: string }).state, 'running')
  } finally {
    await impostor.endAsync()
  }
})

test('bad input from upstream is answered or dropped and counted; the gateway keeps working', async () => {
  const publish = (topic: string, payload: Buffer | string): Promise<unknown> => alice.client.publishAsync(topic, payload, { qos: 1 })
  const t = 'outpost/gw-a/rpc/core/list/alice'
  const base = (await stats('gw-a')).downlink
  await publish(t, Buffer.from([0xa1, 0x62])) // CBOR cut short
  await publish(t, encodeCbor([1, 2, 3])) // not a map
  await publish(t, encodeCbor({ id: 1, reply: 'outpost/gw-b/reply/alice/x' })) // a reply topic not its own
  await publish(t, encodeCbor({ id: 1, reply: 'reply/local-client' })) // a local reply topic
  await publish('outpost/gw-a/rpc/core/list/carol', encodeCbor({ id: 1 })) // refused by the ACL: carol is not alice
  await publish(t, encodeCbor({ id: 1, reply: 'outpost/gw-a/reply/alice/x', pad: Buffer.alloc(4200) })) // over maxRequestBytes (4096)
  const noId = await new Promise<any>(resolve => {
    const onMessage = (topic: string, payload: Buffer): void => {
      if (topic !== 'outpost/gw-a/reply/alice/noid') return
      alice.client.off('message', onMessage)
      resolve(decodeCbor(payload))
    }
    alice.client.on('message', onMessage)
    alice.client.subscribe('outpost/gw-a/reply/alice/noid', () => { void publish(t, encodeCbor({ reply: 'outpost/gw-a/reply/alice/noid' })) })
  })
  assert.equal(noId.error.code, 'BAD_REQUEST')
  // the upstream delivers one publisher's messages in order: the ones before were handled before this reply
  const d = (await stats('gw-a')).downlink
  assert.equal(d.dropped.malformed - base.dropped.malformed, 4)
  assert.equal(d.dropped.tooLarge - base.dropped.tooLarge, 1)
  assert.equal((await alice.call('gw-a', 'core', 'list')).error, undefined, 'still answering')
})

test('a packet over the uplink\'s bound closes the upstream connection from its header; the uplink reconnects', async () => {
  const before = await stats('gw-a')
  statuses.delete('gw-a')
  await alice.client.publishAsync('outpost/gw-a/rpc/core/list/alice', Buffer.alloc(64 * 1024, 0xa1), { qos: 1 })
  await waitFor('gw-a offline (its Last Will)', () => statuses.get('gw-a')?.state === 'offline', 20_000)
  const after = await waitFor('gw-a back online', () => statuses.get('gw-a')?.state === 'online', 20_000).then(() => stats('gw-a'))
  assert.equal(after.oversized, before.oversized + 1)
  assert.equal(after.downlink.received, before.downlink.received, 'never decoded')
  assert.equal((await alice.call('gw-a', 'core', 'list')).error, undefined)
})

test('a flood of requests: past the rate they are dropped and counted, past maxInFlight answered UNAVAILABLE', async () => {
  const before = (await stats('gw-b')).downlink
  const replies = await Promise.allSettled(Array.from({ length: 300 }, () => alice.call('gw-b', 'alpha', 'slow', 200, 3000)))
  const answered = replies.filter(r => r.status === 'fulfilled').map(r => (r as PromiseFulfilledResult<any>).value)
  const after = (await stats('gw-b')).downlink
  assert.equal(after.received - before.received, 300)
  assert.ok(after.dropped.rate - before.dropped.rate > 0, 'some dropped by rate')
  assert.equal(answered.length, 300 - (after.dropped.rate - before.dropped.rate), 'every request not dropped was answered')
  assert.ok(answered.some(r => r.error?.code === 'UNAVAILABLE' && /requests in flight \(limit 4\)/.test(r.error.message)))
  assert.ok(answered.some(r => r.result === 200))
  assert.equal((await alice.call('gw-b', 'core', 'list')).error, undefined, 'still answering')
})

test('review: an upstream account with no role here cannot spend the fleet operators\' rate: each operator of the manifest has its own bucket', async () => {
  const mallory = await fleetOperator(await upstream.client('mallory'), 'mallory')
  try {
    const before = (await stats('gw-a')).downlink
    // 200 requests at once, four times the burst of one bucket: most dropped, the rest refused
    const flood = Promise.allSettled(Array.from({ length: 200 }, () => mallory.call('gw-a', 'core', 'list', null, 3000)))
    const calls = []
    for (let i = 0; i < 20; i++) calls.push(await alice.call('gw-a', 'core', 'list', null, 5000)) // one at a time: maxInFlight is 4
    assert.deepEqual(calls.map(c => c.error?.code ?? 'ok'), Array(20).fill('ok'), 'every one of the fleet admin\'s calls answered')
    const refused = (await flood).filter(r => r.status === 'fulfilled').map(r => (r as PromiseFulfilledResult<any>).value)
    assert.ok(refused.length > 0 && refused.every(r => r.error?.code === 'NOT_AUTHORISED'), 'mallory is refused, as long as her bucket lasts')
    const after = (await stats('gw-a')).downlink
    assert.ok(after.dropped.rate - before.dropped.rate >= 200 - 50 - 10, `the rest of mallory's flood dropped by rate: ${after.dropped.rate - before.dropped.rate}`)
  } finally {
    await mallory.end()
  }
})
