// Limits against a misbehaving client, per listener: packet size, client count, message rate.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import { startTestGateway, fixture, poll, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { DEFAULT_LIMITS, listenerLimits, listenerRateGates, moduleSocketLimits, pendingGate, rateGate } from '../../core/broker/limits.js'
import { fakeClient } from '../helpers/fake-client.js'
import { MAX_LINE_SECONDS, MAX_WAITING_TOKENS, waitLines, waitingLimit } from '../../core/broker/wait-line.js'
import { encodeCbor } from '../../core/protocol/codec.js'
import { PASSWORDS, operators } from './helpers.js'


let gw: TestGateway
let strict: string // maxClients 2, 4 KiB packets, 5 messages at once then disconnect
let throttled: string // throttles past 50 messages/s
let perUser: string // operators only; 10 messages at once per user, then disconnect
let waiting: string // 4 connections not yet authenticated, 2 per address, 2 KiB before the CONNACK, 8 KiB after
const clients: MqttClient[] = []

before(async () => {
  gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { maxClients: 2, maxPacketBytes: 4096, rate: { messagesPerSecond: 1, burst: 5, action: 'disconnect' } } },
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { rate: { messagesPerSecond: 50, burst: 5 } } },
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { maxPending: 4, maxPendingPerAddress: 2, maxConnectBytes: 2048, maxPacketBytes: 8192 } },
        { type: 'tcp', host: '127.0.0.1', port: 0, limits: { rate: { messagesPerSecond: 1, burst: 10, action: 'disconnect' } } },
      ],
    },
    operators: await operators(),
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  strict = gw.gateway.broker.listeners[0]?.url ?? ''
  throttled = gw.gateway.broker.listeners[1]?.url ?? ''
  waiting = gw.gateway.broker.listeners[2]?.url ?? ''
  perUser = gw.gateway.broker.listeners[3]?.url ?? ''
})

after(async () => {
  await Promise.all(clients.map(c => c.endAsync(true)))
  await gw?.stop()
})

async function client (url: string, login: { username?: string, password?: string } = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...login }, false)
  clients.push(c)
  return c
}

function closed (c: MqttClient): Promise<void> {
  return c.connected ? new Promise(resolve => c.once('close', () => resolve())) : Promise.resolve()
}

test('defaults, and the module socket: no rate limit, packets as large as any listener allows', () => {
  assert.deepEqual(listenerLimits(undefined), DEFAULT_LIMITS)
  assert.deepEqual([DEFAULT_LIMITS.maxPending, DEFAULT_LIMITS.maxPendingPerAddress, DEFAULT_LIMITS.maxConnectBytes], [64, 16, 16 * 1024])
  assert.deepEqual(listenerLimits({ rate: { burst: 3 } }).rate, { messagesPerSecond: 500, burst: 3, action: 'throttle' })
  const modules = moduleSocketLimits([listenerLimits({ maxPacketBytes: 4 * 1024 * 1024 })])
  assert.equal(modules.rate, null)
  assert.equal(modules.maxPacketBytes, 4 * 1024 * 1024)
})

test('the rate gate: a burst at once, then one message per token, throttled (in one wait line) or refused', () => {
  const clock = sinon.useFakeTimers({ now: 1000 })
  try {
    const ran: number[] = []
    const throttle = rateGate({ messagesPerSecond: 10, burst: 2, action: 'throttle' }, () => clock.now)
    const lines = waitLines(() => clock.now)
    const client = fakeClient('c')
    for (let i = 0; i < 4; i++) assert.equal(lines.admit(client, throttle, 1, () => ran.push(i)), true)
    assert.deepEqual(ran, [0, 1])
    assert.equal(throttle.throttling, true)
    assert.equal(clock.countTimers(), 1, 'one timer for the client, however many wait')
    clock.tick(100)
    assert.deepEqual(ran, [0, 1, 2])
    clock.tick(100)
    assert.deepEqual(ran, [0, 1, 2, 3])
    assert.equal(lines.waiting, 0)

    const strictGate = rateGate({ messagesPerSecond: 10, burst: 2, action: 'disconnect' }, () => clock.now)
    assert.equal(strictGate.take(1), 0)
    assert.equal(strictGate.take(1), 0)
    assert.equal(strictGate.take(1), -1)
    clock.tick(100)
    assert.equal(strictGate.take(1), 0)
  } finally {
    clock.restore()
  }
})

test(`review 8: a connection may have ${MAX_LINE_SECONDS} s of its rate waiting (at least 256 tokens, at most ${MAX_WAITING_TOKENS}); past it it is refused; closed, what waits is dropped, its timer cleared and its tokens given back`, () => {
  const clock = sinon.useFakeTimers({ now: 1000 })
  try {
    const gate = rateGate({ messagesPerSecond: 10, burst: 5, action: 'throttle' }, () => clock.now)
    const lines = waitLines(() => clock.now)
    const flooder = fakeClient('flooder')
    const ran: string[] = []
    for (let i = 0; i < 10; i++) assert.equal(lines.admit(flooder, gate, 1, () => ran.push(`f${i}`)), true) // 5 at once, 5 waiting
    // 10 a second: the limit is a SUBSCRIBE's 256 filters (more than 10 s of the rate); at 500 a second, 5000
    assert.equal(waitingLimit(gate.limit), 256)
    assert.equal(waitingLimit({ messagesPerSecond: 500, burst: 1000, action: 'throttle' }), 5000)
    assert.equal(waitingLimit({ messagesPerSecond: 1e6, burst: 1000, action: 'throttle' }), MAX_WAITING_TOKENS)
    assert.equal(lines.admit(flooder, gate, 256 - 5, () => ran.push('at the limit')), true)
    assert.equal(lines.admit(flooder, gate, 1, () => ran.push('over')), false, 'one more than the limit waiting')
    assert.equal(clock.countTimers(), 1)
    assert.equal(ran.length, 5)
    flooder.conn.emit('close')
    assert.equal(clock.countTimers(), 0)
    assert.equal(lines.waiting, 0)
    clock.tick(60_000)
    assert.equal(ran.length, 5, 'what waited was dropped with its connection')
    // its tokens came back: the user's other connection is not delayed by what was never sent
    const sibling = fakeClient('sibling')
    assert.equal(lines.admit(sibling, gate, 1, () => ran.push('sibling')), true)
    assert.equal(ran.at(-1), 'sibling')
    // an UNSUBSCRIBE owes its tokens, up to a burst of debt, and never disconnects under throttle
    for (let i = 0; i < 100; i++) assert.equal(gate.owe(256), true)
    assert.ok(gate.take(1) <= 1000 * (5 + 1) / 10, 'the debt stops at a burst')
  } finally {
    clock.restore()
  }
})

test('issue 10 review: one operator user\'s connections share one rate bucket; other users and other clients have their own', () => {
  const clock = sinon.useFakeTimers({ now: 1000 })
  try {
    const gates = listenerRateGates({ messagesPerSecond: 10, burst: 2, action: 'disconnect' }, () => clock.now)
    const releases: Array<() => void> = []
    const keep = (release: () => void): void => { releases.push(release) }
    const first = gates.gateOf('operator viewer', keep)
    const second = gates.gateOf('operator viewer', keep)
    assert.equal(first, second)
    assert.deepEqual([(first.take(1) === 0), (second.take(1) === 0), (second.take(1) === 0)], [true, true, false])
    assert.equal((gates.gateOf('operator admin', keep).take(1) === 0), true, 'another user: its own bucket')
    assert.equal((gates.gateOf('anonymous 10.0.0.9', keep).take(1) === 0), true, 'an address\'s anonymous clients: their own')
    assert.equal(gates.buckets, 3)
  } finally {
    clock.restore()
  }
})

test('review 5: a bucket outlives its connections until it has refilled: closing and connecting again gives no fresh burst', () => {
  const clock = sinon.useFakeTimers({ now: 1000 })
  try {
    const gates = listenerRateGates({ messagesPerSecond: 10, burst: 2, action: 'disconnect' }, () => clock.now)
    let release = (): void => {}
    const connect = (): ReturnType<typeof gates.gateOf> => gates.gateOf('operator viewer', r => { release = r })
    const first = connect()
    assert.deepEqual([(first.take(1) === 0), (first.take(1) === 0), (first.take(1) === 0)], [true, true, false])
    release()
    const again = connect()
    assert.equal((again.take(1) === 0), false, 'the same drained bucket, though no connection of the user was left')
    release()
    clock.tick(100) // one token back: still not full, still kept
    assert.equal(gates.buckets, 1)
    assert.deepEqual([(connect().take(1) === 0), (gates.gateOf('operator viewer', () => {}).take(1) === 0)], [true, false])
    release()
    clock.tick(1000) // refilled: as good as new, forgotten once asked
    assert.equal(gates.buckets, 1, 'one connection of the user is still open (the second above)')
  } finally {
    clock.restore()
  }
})

test('review 5: buckets of clients gone are forgotten once refilled, when many are held', () => {
  const clock = sinon.useFakeTimers({ now: 1000 })
  try {
    const gates = listenerRateGates({ messagesPerSecond: 10, burst: 2, action: 'disconnect' }, () => clock.now)
    for (let i = 0; i < 1024; i++) {
      gates.gateOf(`anonymous 10.0.${i >> 8}.${i & 255}`, release => release()).take(1)
    }
    assert.equal(gates.buckets, 1024, 'each drew a token: none has refilled')
    clock.tick(200)
    gates.gateOf('anonymous 10.9.9.9', () => {})
    assert.equal(gates.buckets, 1, 'the 1024 refilled and gone were forgotten; the new one, connected, stays')
  } finally {
    clock.restore()
  }
})

test('issue 10 review: the pending gate evicts the oldest connection that has not sent its CONNECT, and refuses a newcomer only when every slot has sent one', () => {
  const gate = pendingGate(listenerLimits({ maxPending: 3, maxPendingPerAddress: 2 }))
  const evicted: string[] = []
  const enter = (name: string, address: string) => gate.enter(address, () => evicted.push(name))
  const a = enter('a', '10.0.0.1')
  const b = enter('b', '10.0.0.1')
  const c = enter('c', '10.0.0.2')
  assert.ok(typeof a !== 'string' && typeof b !== 'string' && typeof c !== 'string')
  a.connecting() // its CONNECT arrived: no longer the one evicted
  assert.equal(typeof enter('d', '10.0.0.3'), 'object')
  assert.deepEqual(evicted, ['b'], 'the listener full: its oldest silent connection goes, not the older one that sent its CONNECT')
  assert.equal(typeof enter('e', '10.0.0.2'), 'object')
  assert.deepEqual(evicted, ['b', 'c'])
  const full = [a, enter('d2', '10.0.0.4'), enter('e2', '10.0.0.5')]
  assert.deepEqual(evicted, ['b', 'c', 'd', 'e'])
  for (const slot of full) if (typeof slot !== 'string') slot.connecting()
  assert.match(String(enter('f', '10.0.0.6')), /the listener has its maximum of 3 connections not yet authenticated, each with its CONNECT sent/)
  if (typeof full[1] !== 'string') full[1]?.leave()
  assert.equal(typeof enter('g', '10.0.0.4'), 'object', 'one leaves: a slot is free again')
  assert.deepEqual(gate.counts, { evicted: 4, refused: 1 })
  // per address the same: its own oldest silent one, or refused when all of its have sent their CONNECT
  const one = pendingGate(listenerLimits({ maxPending: 10, maxPendingPerAddress: 1 }))
  const first = one.enter('10.0.0.7', () => evicted.push('first'))
  if (typeof first !== 'string') first.connecting()
  assert.match(String(one.enter('10.0.0.7', () => {})), /10\.0\.0\.7 has its maximum of 1 connections not yet authenticated/)
})

test('a packet over the listener\'s maximum size closes that connection; another client carries on', async () => {
  const big = await client(strict)
  const other = await client(throttled)
  const gone = closed(big)
  big.publish('hooks/x/big', Buffer.alloc(5000))
  await gone
  assert.ok(gw.logs.some(l => /denied publish a packet of 50\d\d bytes/.test(l.text) && /maximum of 4096 bytes/.test(l.text)))
  const granted = await other.subscribeAsync('hooks/x/small')
  assert.equal(granted[0]?.qos, 0)
  assert.ok(other.connected)
})

test('a listener refuses clients past its maximum with CONNACK 3, and admits one again when a client leaves', async () => {
  // a connection the server has not yet seen close still holds its slot: retry until one is free
  const connectSoon = (): Promise<MqttClient> => poll(() => client(strict).catch(() => undefined), 50)
  const first = await connectSoon()
  await connectSoon()
  const refused = await mqtt.connectAsync(strict, { protocolVersion: 4, reconnectPeriod: 0 }, false).then(() => 0, (err: { code?: number }) => err.code)
  assert.equal(refused, 3)
  assert.ok(gw.logs.some(l => /its maximum of 2 clients/.test(l.text)))
  await first.endAsync()
  assert.ok((await connectSoon()).connected)
})

test('a client past its message rate is disconnected on a "disconnect" listener', async () => {
  await Promise.all(clients.splice(0).map(c => c.endAsync(true)))
  const flood = await poll(() => client(strict).catch(() => undefined), 50)
  const gone = closed(flood)
  for (let i = 0; i < 20; i++) flood.publish('hooks/x/flood', Buffer.from([i]))
  await gone
  assert.ok(gw.logs.some(l => /denied publish hooks\/x\/flood/.test(l.text) && /rate limit/.test(l.text)))
})

test('issue 10 review: a second connection of the same user adds no rate: past the user\'s burst it is disconnected, another user is not', async () => {
  const [first, second] = [await client(perUser, { username: 'viewer', password: PASSWORDS.viewer }), await client(perUser, { username: 'viewer', password: PASSWORDS.viewer })]
  const other = await client(perUser, { username: 'admin', password: PASSWORDS.admin })
  const ask = (c: MqttClient, id: number): void => { c.publish('rpc/core/list', encodeCbor({ id, reply: `reply/${c.options.clientId}`, args: null })) }
  // the burst is 10 for the user: 6 from each of its two connections pass it
  for (let i = 0; i < 6; i++) ask(first as MqttClient, i)
  const gone = closed(second as MqttClient)
  for (let i = 0; i < 6; i++) ask(second as MqttClient, i)
  await gone
  for (let i = 0; i < 10; i++) ask(other, i)
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(other.connected, true, 'another user, its own burst of 10')
  assert.ok(gw.logs.some(l => /denied publish rpc\/core\/list/.test(l.text) && /rate limit/.test(l.text)))
  // review 5: every connection of the user closed and a new one opened: the bucket is the drained one still
  await (first as MqttClient).endAsync()
  const again = await client(perUser, { username: 'viewer', password: PASSWORDS.viewer })
  const goneAgain = closed(again)
  for (let i = 0; i < 3; i++) ask(again, i)
  await goneAgain
})

test('a client past its message rate is throttled, not dropped, on a "throttle" listener', async () => {
  const watcher = await client(throttled)
  const received: number[] = []
  watcher.on('message', (_topic, payload) => received.push(payload[0] ?? -1))
  await watcher.subscribeAsync('hooks/x/burst')
  const burst = await client(throttled)
  for (let i = 0; i < 30; i++) burst.publish('hooks/x/burst', Buffer.from([i]))
  await waitFor('every message of the burst', () => received.length === 30, 20_000)
  assert.deepEqual(received, Array.from({ length: 30 }, (_, i) => i))
  assert.ok(burst.connected)
  assert.ok(gw.logs.some(l => /faster than 50 messages\/s: throttled/.test(l.text)))
})

/** A raw connection from `localAddress` (mqtt.js cannot pick its source address), idle until `send`. */
function rawConnection (url: string, localAddress: string): { socket: net.Socket, opened: Promise<void>, connack: (packet: Buffer) => Promise<number | 'closed'> } {
  const { hostname, port } = new URL(url)
  const socket = net.connect({ host: hostname, port: Number(port), localAddress })
  socket.on('error', () => {})
  const opened = new Promise<void>(resolve => socket.once('connect', () => resolve()))
  return {
    socket,
    opened,
    connack: packet => new Promise(resolve => {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', p => { if (p.cmd === 'connack') resolve(p.returnCode ?? -1) })
      socket.on('data', chunk => parser.parse(chunk))
      socket.once('close', () => resolve('closed'))
      socket.write(packet)
    }),
  }
}

const connect = (clientId: string, willBytes = 0): Buffer => mqttPacket.generate({
  cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0,
  ...(willBytes === 0 ? {} : { will: { topic: 'w', payload: Buffer.alloc(willBytes), qos: 0, retain: false } }),
})

/** the CONNACK return code a fresh connection from `localAddress` gets, or 'closed' without one */
async function connackFrom (localAddress: string, packet = connect(`c-${localAddress}`)): Promise<number | 'closed'> {
  const connection = rawConnection(waiting, localAddress)
  try {
    return await connection.connack(packet)
  } finally {
    connection.socket.destroy()
  }
}

const closedSoon = (c: { socket: net.Socket }): Promise<void> => (c.socket.destroyed ? Promise.resolve() : new Promise(resolve => c.socket.once('close', () => resolve())))

test('issue 10 review: connections not yet authenticated are bounded per address and per listener by evicting the oldest silent one, so a newcomer always gets in; logged-in clients do not count', async () => {
  const idle = [rawConnection(waiting, '127.0.0.2'), rawConnection(waiting, '127.0.0.2')]
  await Promise.all(idle.map(c => c.opened))
  // a third from the same address: the address's oldest silent connection makes room for it
  const oldest = closedSoon(idle[0] as { socket: net.Socket })
  assert.equal(await connackFrom('127.0.0.2'), 0, 'the newcomer from the same address logs in')
  await oldest
  assert.equal(idle[1]?.socket.destroyed, false, 'the younger one is kept')
  assert.ok(gw.logs.some(l => /denied connect a connection from 127\.0\.0\.2/.test(l.text) && /the oldest connection that has not sent its CONNECT, closed to make room/.test(l.text)))
  // a logged-in client is no longer waiting: it holds no slot
  const loggedIn = rawConnection(waiting, '127.0.0.3')
  assert.equal(await loggedIn.connack(connect('logged-in')), 0)
  // the listener full (4 waiting, from three addresses): the oldest of them all makes room, whoever comes
  const full = [idle[1], rawConnection(waiting, '127.0.0.3'), rawConnection(waiting, '127.0.0.4'), rawConnection(waiting, '127.0.0.4')]
  await Promise.all(full.map(c => c?.opened))
  const evicted = closedSoon(full[0] as { socket: net.Socket })
  assert.equal(await connackFrom('127.0.0.5'), 0, 'a fifth, from a new address, logs in')
  await evicted
  assert.deepEqual(full.slice(1).map(c => c?.socket.destroyed), [false, false, false], 'only the oldest went')
  const info = gw.gateway.broker.limitCounts().listeners[2]
  assert.equal(info?.pendingEvicted, 2)
  assert.equal(info?.pendingRefused, 0)
  for (const c of [...full, loggedIn]) c?.socket.destroy()
})

test('issue 10 A6: before the CONNACK a packet may be at most maxConnectBytes (at the limit it passes); after it, maxPacketBytes', async () => {
  let willBytes = 2048 - connect('at-limit').length
  while (connect('at-limit', willBytes).length > 2048) willBytes--
  assert.equal(connect('at-limit', willBytes).length, 2048)
  const atLimit = rawConnection(waiting, '127.0.0.7')
  assert.equal(await atLimit.connack(connect('at-limit', willBytes)), 0)
  // logged in: a 4 KiB publish passes (the listener's maxPacketBytes is 8 KiB), answered like any other
  const pong = new Promise<void>(resolve => {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', p => { if (p.cmd === 'pingresp') resolve() })
    atLimit.socket.on('data', chunk => parser.parse(chunk))
  })
  atLimit.socket.write(Buffer.concat([mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/big', payload: Buffer.alloc(4096), qos: 0, retain: false, dup: false }), mqttPacket.generate({ cmd: 'pingreq' })]))
  await pong
  atLimit.socket.destroy()

  assert.equal(await connackFrom('127.0.0.8', connect('over-lmt', willBytes + 1)), 'closed')
  assert.ok(gw.logs.some(l => /denied connect a packet of 2049 bytes/.test(l.text) && /maximum of 2048 bytes before the CONNACK/.test(l.text)))
})
