// Limits against a misbehaving client, per listener: packet size, client count, message rate.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { startTestGateway, fixture, poll, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { DEFAULT_LIMITS, listenerLimits, moduleSocketLimits, rateGate } from '../../core/broker/limits.js'

let gw: TestGateway
let strict: string // maxClients 2, 4 KiB packets, 5 messages at once then disconnect
let throttled: string // throttles past 50 messages/s
const clients: MqttClient[] = []

before(async () => {
  gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { maxClients: 2, maxPacketBytes: 4096, rate: { messagesPerSecond: 1, burst: 5, action: 'disconnect' } } },
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { rate: { messagesPerSecond: 50, burst: 5 } } },
      ],
    },
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  strict = gw.gateway.broker.listeners[0]?.url ?? ''
  throttled = gw.gateway.broker.listeners[1]?.url ?? ''
})

after(async () => {
  await Promise.all(clients.map(c => c.endAsync(true)))
  await gw?.stop()
})

async function client (url: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 }, false)
  clients.push(c)
  return c
}

function closed (c: MqttClient): Promise<void> {
  return c.connected ? new Promise(resolve => c.once('close', () => resolve())) : Promise.resolve()
}

test('defaults, and the module socket: no rate limit, packets as large as any listener allows', () => {
  assert.deepEqual(listenerLimits(undefined), DEFAULT_LIMITS)
  assert.deepEqual(listenerLimits({ rate: { burst: 3 } }).rate, { messagesPerSecond: 500, burst: 3, action: 'throttle' })
  const modules = moduleSocketLimits([listenerLimits({ maxPacketBytes: 4 * 1024 * 1024 })])
  assert.equal(modules.rate, null)
  assert.equal(modules.maxPacketBytes, 4 * 1024 * 1024)
})

test('the rate gate: a burst at once, then one message per token, throttled or refused', () => {
  const clock = sinon.useFakeTimers({ now: 1000 })
  try {
    const ran: number[] = []
    const throttle = rateGate({ messagesPerSecond: 10, burst: 2, action: 'throttle' }, () => clock.now)
    for (let i = 0; i < 4; i++) assert.equal(throttle.admit(() => ran.push(i)), true)
    assert.deepEqual(ran, [0, 1])
    assert.equal(throttle.throttling, true)
    clock.tick(100)
    assert.deepEqual(ran, [0, 1, 2])
    clock.tick(100)
    assert.deepEqual(ran, [0, 1, 2, 3])

    const strictGate = rateGate({ messagesPerSecond: 10, burst: 2, action: 'disconnect' }, () => clock.now)
    assert.equal(strictGate.admit(() => {}), true)
    assert.equal(strictGate.admit(() => {}), true)
    assert.equal(strictGate.admit(() => {}), false)
    clock.tick(100)
    assert.equal(strictGate.admit(() => {}), true)
  } finally {
    clock.restore()
  }
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
