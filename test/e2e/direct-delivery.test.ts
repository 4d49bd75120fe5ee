// The broker's direct path for QoS 0 messages (core/broker/direct.ts) against real clients: a subscriber that
// stops reading never holds up the others, loses messages only for itself and is disconnected; the core's
// in-process subscribers still get what the direct path delivers; overlapping subscriptions get one copy.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import { decodeCbor } from '../../core/protocol/codec.js'

/** A client written by hand, so that the test decides when it reads: connects, subscribes, then stops reading. */
async function stuckSubscriber (url: string, clientId: string, filter: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const acknowledged = new Promise<void>(resolve => {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', packet => { if (packet.cmd === 'suback') resolve() })
    socket.on('data', chunk => parser.parse(chunk))
  })
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }))
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }))
  await acknowledged
  socket.removeAllListeners('data')
  socket.pause() // from here on nothing is read: the kernel buffers fill, then the broker's
  return socket
}

test('a subscriber that stops reading loses QoS 0 messages alone, is disconnected, and the others get every message', async (t) => {
  const gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }], drainTimeoutMs: 300 },
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  t.after(() => gw.stop())
  const stuck = await stuckSubscriber(gw.url, 'stuck-subscriber', 'hooks/alpha/#')
  t.after(() => { stuck.destroy() })
  const reader = await connectOperator(gw.url)
  t.after(() => reader.end())
  const seen: number[] = []
  reader.client.on('message', (topic, payload) => {
    if (topic === 'hooks/alpha/edge/load') seen.push(Buffer.from((decodeCbor(payload) as { data: Uint8Array }).data).readUInt32BE(0))
  })
  await reader.client.subscribeAsync('hooks/alpha/#')

  // A module's hooks take the direct path: 48 MiB in all, more than loopback TCP buffers and the broker's
  // 4 MiB backlog for one subscriber together. In bursts of 4 MiB that the reader takes in before the next,
  // so that the reader, in this busy test process, is never the one that falls behind. (Not on `ping`: the
  // echo module listens to that itself, and would fall behind reading its own burst.)
  const bursts = 12
  const perBurst = 64
  for (let b = 0; b < bursts; b++) {
    assert.equal((await reader.call('alpha', 'burst', { hook: 'edge/load', count: perBurst, bytes: 64 * 1024 }, 20_000)).result, perBurst)
    await waitFor(`burst ${b + 1} at the reader`, () => seen.length === (b + 1) * perBurst, 20_000)
  }
  assert.deepEqual(seen, Array.from({ length: bursts * perBurst }, (_, i) => i % perBurst), 'in order, none lost')

  await waitFor('the drop to be logged', () => gw.logs.find(l => /stuck-subscriber is not reading: dropping its messages/.test(l.text)))
  const verdict = await waitFor('the disconnection to be logged', () => gw.logs.find(l => /stuck-subscriber did not catch up: disconnected after \d+ dropped message/.test(l.text)), 5000)
  assert.ok(Number(/after (\d+) dropped/.exec(verdict.text)?.[1]) > 0)
  const clients = (gw.gateway.broker.aedes as unknown as { clients: Record<string, unknown> }).clients
  await waitFor('the stuck subscriber to be gone from the broker', () => clients['stuck-subscriber'] === undefined)
})

test('in-process subscribers get hooks published with QoS 0; overlapping subscriptions get one copy', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }] })
  t.after(() => gw.stop())
  const inCore: string[] = []
  await gw.gateway.bus.subscribe('hooks/alpha/#', topic => { inCore.push(topic) })
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const atOperator: string[] = []
  op.client.on('message', topic => { if (topic.startsWith('hooks/')) atOperator.push(topic) })
  await op.client.subscribeAsync(['hooks/alpha/#', 'hooks/+/ping'])
  for (let i = 0; i < 3; i++) assert.equal((await op.call('alpha', 'emit', { hook: 'ping', data: i })).result, true)
  await waitFor('the core to get all three', () => inCore.length === 3)
  await waitFor('the operator to get all three', () => atOperator.length === 3)
  await new Promise(resolve => setTimeout(resolve, 200)) // no late duplicates either
  assert.deepEqual(inCore, ['hooks/alpha/ping', 'hooks/alpha/ping', 'hooks/alpha/ping'])
  assert.deepEqual(atOperator, ['hooks/alpha/ping', 'hooks/alpha/ping', 'hooks/alpha/ping'])
})
