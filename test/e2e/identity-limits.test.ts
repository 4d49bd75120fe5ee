// Slots and calls that one party could hold against everyone else (issue 10 review): connections not yet
// logged in, logged-in connections per operator user and the admins' reserve, and calls in flight per
// identity. A real gateway, real operators with passwords, real sockets, a real module.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { startTestGateway, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { hashPassword } from '../../core/broker/credentials.js'
import { STORE_LIMITS } from '../../core/broker/limits.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'

const PASSWORD = 'a-password-1'
const USERS = { admin: 'admin', admin2: 'admin', viewer: 'viewer', viewer2: 'viewer' } as const
type User = keyof typeof USERS

let gw: TestGateway
let small: string // maxClients 6, 3 per user, the last 2 for admins; 8 waiting, 4 per address
let roomy: string // the defaults
const clients: MqttClient[] = []
let n = 0

before(async () => {
  const passwordHash = await hashPassword(PASSWORD)
  gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0, limits: { maxClients: 6, maxClientsPerUser: 3, adminReserve: 2, maxPending: 8, maxPendingPerAddress: 4 } },
        { type: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    },
    operators: Object.entries(USERS).map(([user, role]) => ({ user, role, passwordHash })),
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  small = gw.gateway.broker.listeners[0]?.url ?? ''
  roomy = gw.gateway.broker.listeners[1]?.url ?? ''
})

after(async () => {
  await Promise.all(clients.map(c => c.endAsync(true)))
  await gw?.stop()
})

/** logs in as `user` (keepalive 0: an idle client the broker never times out); the CONNACK code it got (0: in) */
async function login (url: string, user: User): Promise<{ code: number, client?: MqttClient }> {
  try {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `${user}-${++n}`, username: user, password: PASSWORD, keepalive: 0, reconnectPeriod: 0, connectTimeout: 20_000 }, false)
    clients.push(client)
    return { code: 0, client }
  } catch (err) {
    return { code: (err as { code?: number }).code ?? -1 }
  }
}

async function info (): Promise<any> {
  const { client } = await login(roomy, 'admin')
  assert.ok(client !== undefined)
  const reply = `reply/${client.options.clientId ?? ''}`
  await client.subscribeAsync(reply)
  const answer = new Promise<any>(resolve => client.once('message', (_t, payload) => resolve(decodeCbor(payload))))
  client.publish('rpc/core/info', encodeCbor({ id: 1, reply }))
  const result = (await answer).result
  await client.endAsync()
  return result
}

test('issue 10 review: an admin logs in while the listener\'s pending slots are held by sockets that never send a CONNECT, renewed as fast as they are closed', async () => {
  const { hostname, port } = new URL(small)
  let holding = true
  const junk = new Set<net.Socket>()
  // 8 silent sockets from four loopback addresses (the listener's maxPending, 2 of each address's 4), each
  // replaced by a new one the moment it is closed: the flood the old design could not get out of
  const open = (i: number): void => {
    if (!holding) return
    const socket = net.connect({ host: hostname, port: Number(port), localAddress: `127.0.2.${i % 4}` })
    socket.on('error', () => {})
    junk.add(socket)
    socket.once('close', () => {
      junk.delete(socket)
      open(i)
    })
  }
  for (let i = 0; i < 8; i++) open(i)
  await waitFor('the pending table full', () => gw.gateway.broker.limitCounts().listeners[0]?.pending === 8)
  const evictedBefore = gw.gateway.broker.limitCounts().listeners[0]?.pendingEvicted ?? 0
  const admin = await login(small, 'admin')
  assert.equal(admin.code, 0, 'the admin is in')
  await admin.client?.endAsync()
  const viewer = await login(small, 'viewer')
  assert.equal(viewer.code, 0, 'and a viewer')
  await viewer.client?.endAsync()
  holding = false
  for (const socket of junk) socket.destroy()
  const counts = gw.gateway.broker.limitCounts().listeners[0]
  assert.ok((counts?.pendingEvicted ?? 0) >= evictedBefore + 2, 'each newcomer took the place of the oldest silent socket')
  assert.equal(counts?.pendingRefused, 0)
  assert.ok(gw.logs.some(l => /the oldest connection that has not sent its CONNECT, closed to make room for a newer one/.test(l.text)))
})

test('issue 10 review: one user holds at most maxClientsPerUser connections, viewers fill the listener only up to the admins\' reserve, and an admin still gets in', async () => {
  await waitFor('the listener empty', () => gw.gateway.broker.limitCounts().listeners[0]?.clients === 0)
  const connected = async (user: User, times: number): Promise<MqttClient[]> => {
    const out: MqttClient[] = []
    for (let i = 0; i < times; i++) {
      const { code, client } = await login(small, user)
      assert.equal(code, 0, `${user} connection ${i + 1}`)
      if (client !== undefined) out.push(client)
    }
    return out
  }
  const viewers = await connected('viewer', 3)
  // idle with keepalive 0, never timed out: all the same, one user's connections stop at its limit
  assert.equal((await login(small, 'viewer')).code, 3, 'a fourth connection of viewer: CONNACK 3 [MQTT-3.2.2-5]')
  assert.equal((await login(small, 'viewer')).code, 3)
  await connected('viewer2', 1)
  // 4 clients: the last 2 of maxClients 6 are for admins
  assert.equal((await login(small, 'viewer2')).code, 3, 'a viewer may not take an admin\'s slot')
  const admins = [...await connected('admin', 1), ...await connected('admin2', 1)]
  assert.equal((await login(small, 'admin')).code, 3, 'the listener at maxClients: admins too')
  const counts = gw.gateway.broker.limitCounts().listeners[0]
  assert.deepEqual([counts?.maxClientsPerUser, counts?.adminReserve, counts?.maxClients], [2, 1, 1])
  // one line per limit and user within the window, naming both
  assert.equal(gw.logs.filter(l => /operator viewer has its maximum of 3 connections on this listener/.test(l.text)).length, 1)
  assert.ok(gw.logs.some(l => /last 2 of 6 client slots are kept for admins, and operator viewer2 \(viewer\)/.test(l.text)))
  assert.ok(gw.logs.some(l => /the listener has its maximum of 6 clients/.test(l.text)))
  // an admin leaves: an admin may connect again (a viewer still may not: 5 clients are past the reserve's line)
  await admins[0]?.endAsync()
  await waitFor('its slot free', () => gw.gateway.broker.limitCounts().listeners[0]?.clients === 5)
  const again = await login(small, 'admin')
  assert.equal(again.code, 0)
  const seen = await info()
  assert.deepEqual(seen.limits.listeners[0], { clients: 6, pending: 0, pendingEvicted: counts?.pendingEvicted, pendingRefused: 0, maxClients: 1, maxClientsPerUser: 2, adminReserve: 1 }, 'the counters are in `info`')
  for (const c of [...viewers, ...admins, again.client]) await c?.endAsync()
})

test('issue 10 review: one operator\'s calls in flight stop at pendingCallsPerIdentity over all its connections; a second operator\'s calls still go through', async () => {
  const perCaller = STORE_LIMITS.pendingCallsPerCaller
  const perIdentity = STORE_LIMITS.pendingCallsPerIdentity
  const holders: MqttClient[] = []
  // admin holds its whole limit: perIdentity / perCaller connections, each at its own per-caller limit
  for (let c = 0; c < perIdentity / perCaller; c++) {
    const { client } = await login(roomy, 'admin')
    assert.ok(client !== undefined)
    holders.push(client)
    const reply = `reply/${client.options.clientId ?? ''}`
    for (let i = 0; i < perCaller; i++) client.publish('rpc/alpha/slow', encodeCbor({ id: i, reply, timeout: 60_000, args: 30_000 }))
  }
  await waitFor('every call held', () => gw.gateway.router.pending === perIdentity, 20_000)
  const ask = async (user: User, id: number): Promise<any> => {
    const { client } = await login(roomy, user)
    assert.ok(client !== undefined)
    const reply = `reply/${client.options.clientId ?? ''}`
    await client.subscribeAsync(reply)
    const answer = new Promise<any>(resolve => client.on('message', (_t, payload) => {
      const body = decodeCbor(payload) as { id: number }
      if (body.id === id) resolve(body)
    }))
    client.publish('rpc/alpha/echo', encodeCbor({ id, reply, args: 'through' }))
    const body = await answer
    await client.endAsync()
    return body
  }
  const refused = await ask('admin', 7)
  assert.equal(refused.error.code, 'TOO_MANY_CALLS', 'a new connection of the same operator is refused')
  assert.deepEqual(refused.error.details, { limit: 'perIdentity', max: perIdentity })
  assert.match(refused.error.message, new RegExp(`${perIdentity} calls from operator admin are in flight, all its connections together`))
  assert.equal((await ask('admin2', 8)).result, 'through', 'another operator is not held back')
  await Promise.all(holders.map(c => c.endAsync()))
  // its connections gone, its calls are forgotten (rpc-router callerGone) and its limit is free again
  await waitFor('the calls forgotten', () => gw.gateway.router.pending === 0)
  assert.equal((await ask('admin', 9)).result, 'through')
  assert.equal((await info()).limits.calls.refused.perIdentity, 1)
})
