// MQTT 3.1.1 as any client expects it, against the real gateway's anonymous loopback listener: the
// behaviours Eclipse Paho's interoperability client tests check (interoperability/client_test.py in
// eclipse/paho.mqtt.testing), written anew from the MQTT 3.1.1 specification so that CI needs no network.
// mqtt.js for ordinary clients; a raw socket where a client must misbehave (stop acknowledging, stop pinging).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqtt from 'mqtt'
import type { MqttClient, IClientOptions } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { startTestGateway, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'

let gw: TestGateway
const open: MqttClient[] = []

before(async () => {
  gw = await startTestGateway({ modules: [] })
})

after(async () => {
  await Promise.all(open.map(c => c.endAsync(true)))
  await gw?.stop()
})

interface Received { topic: string, payload: string, qos: number, retain: boolean }

/** an mqtt.js client that records every message, from before its CONNACK (a resumed session's queue comes at once) */
async function client (clientId: string, options: IClientOptions = {}): Promise<{ c: MqttClient, received: Received[], sessionPresent: boolean }> {
  const received: Received[] = []
  const c = mqtt.connect(gw.url, { protocolVersion: 4, clientId, reconnectPeriod: 0, ...options })
  open.push(c)
  c.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }))
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    c.once('connect', resolve)
    c.once('error', reject)
  })
  return { c, received, sessionPresent: connack.sessionPresent }
}

/** a marker published after everything else, on a topic the subscriber matches: once it arrives, what came before has too */
async function settled (publisher: MqttClient, received: Received[], topic: string): Promise<void> {
  const payload = `marker-${Math.random()}`
  await publisher.publishAsync(topic, payload, { qos: 1 })
  await waitFor(`the marker on ${topic}`, () => received.some(m => m.payload === payload))
  received.splice(received.findIndex(m => m.payload === payload), 1)
}

/** A client on a raw socket: it sends what it is told and acknowledges nothing by itself. */
function rawClient (): { send (packet: Record<string, unknown>): void, next (cmd: string): Promise<Packet>, packets: Packet[], closed: Promise<void>, socket: net.Socket } {
  const { hostname, port } = new URL(gw.url)
  const socket = net.connect({ host: hostname, port: Number(port) })
  socket.on('error', () => {})
  const packets: Packet[] = []
  const waiting: Array<{ cmd: string, resolve: (p: Packet) => void }> = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', p => {
    const i = waiting.findIndex(w => w.cmd === p.cmd)
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(p)
    else packets.push(p)
  })
  socket.on('data', chunk => parser.parse(chunk))
  return {
    socket,
    packets,
    closed: new Promise(resolve => socket.once('close', () => resolve())),
    send: packet => socket.write(mqttPacket.generate(packet as unknown as Packet)),
    next: cmd => {
      const i = packets.findIndex(p => p.cmd === cmd)
      if (i >= 0) return Promise.resolve(packets.splice(i, 1)[0] as Packet)
      return new Promise(resolve => waiting.push({ cmd, resolve }))
    },
  }
}

test('basic: connect, disconnect, connect again (no session present with clean session), publish and receive at QoS 0, 1 and 2', async () => {
  const first = await client('basic')
  await first.c.endAsync()
  const { c, received, sessionPresent } = await client('basic')
  assert.equal(sessionPresent, false, '[MQTT-3.2.2-1]')
  const granted = await c.subscribeAsync('basic/A', { qos: 2 })
  assert.equal(granted[0]?.qos, 2)
  for (const qos of [0, 1, 2] as const) await c.publishAsync('basic/A', `qos ${qos}`, { qos })
  await waitFor('three messages', () => received.length === 3)
  assert.deepEqual(received.map(m => [m.payload, m.qos]), [['qos 0', 0], ['qos 1', 1], ['qos 2', 2]])
  await c.endAsync()
})

test('retained messages: kept per topic at every QoS and sent on subscribe with RETAIN set; an empty retained message clears one [MQTT-3.3.1-10]', async () => {
  const { c, received } = await client('retainer')
  await c.publishAsync('retained/A/B', 'qos 0', { qos: 0, retain: true })
  await c.publishAsync('retained/C', 'qos 1', { qos: 1, retain: true })
  await c.publishAsync('retained/A/C', 'qos 2', { qos: 2, retain: true })
  await c.subscribeAsync('retained/#', { qos: 2 })
  await waitFor('three retained messages', () => received.length === 3)
  assert.deepEqual(received.map(m => m.retain), [true, true, true])
  assert.deepEqual(received.map(m => m.payload).sort(), ['qos 0', 'qos 1', 'qos 2'])
  for (const topic of ['retained/A/B', 'retained/C', 'retained/A/C']) await c.publishAsync(topic, '', { qos: 1, retain: true })
  await c.endAsync()

  const again = await client('retainer-2')
  await again.c.subscribeAsync('retained/#', { qos: 2 })
  await settled(again.c, again.received, 'retained/marker')
  assert.deepEqual(again.received, [], 'nothing retained is left')
  await again.c.endAsync()
})

test('offline messages: a clean session 0 subscription keeps QoS 1 and 2 messages for its client while it is away, and resumes its session [MQTT-3.1.2-5]', async () => {
  const away = await client('offline-a', { clean: false })
  await away.c.subscribeAsync('+/+', { qos: 2 }) // (granted to anyone: filtered at delivery, docs/management.md)
  await away.c.endAsync()
  const { c } = await client('offline-b')
  await c.publishAsync('offline/qos0', 'qos 0', { qos: 0 })
  await c.publishAsync('offline/qos1', 'qos 1', { qos: 1 })
  await c.publishAsync('offline/qos2', 'qos 2', { qos: 2 })
  await c.endAsync()
  const back = await client('offline-a', { clean: false })
  assert.equal(back.sessionPresent, true, '[MQTT-3.2.2-2]')
  await waitFor('the QoS 1 and 2 messages', () => ['qos 1', 'qos 2'].every(p => back.received.some(m => m.payload === p)))
  assert.ok(back.received.length <= 3)
  await back.c.endAsync()
  // leave no session behind
  const clean = await client('offline-a', { clean: true })
  await clean.c.endAsync()
})

test('will message: published when its client\'s connection ends without a DISCONNECT [MQTT-3.1.2-8]', async () => {
  const watcher = await client('will-watcher')
  await watcher.c.subscribeAsync('will/topic', { qos: 2 })
  const dying = await client('will-dying', { will: { topic: 'will/topic', payload: Buffer.from('client not disconnected'), qos: 1, retain: false } })
  dying.c.stream.destroy()
  await waitFor('the will', () => watcher.received.some(m => m.payload === 'client not disconnected'))
  // and not when the client says goodbye [MQTT-3.1.2-10]
  const polite = await client('will-polite', { will: { topic: 'will/topic', payload: Buffer.from('polite'), qos: 1, retain: false } })
  await polite.c.endAsync()
  await settled(watcher.c, watcher.received, 'will/topic')
  assert.deepEqual(watcher.received.map(m => m.payload), ['client not disconnected'])
  await watcher.c.endAsync()
})

test('overlapping subscriptions: one message at the highest QoS, or one per matching subscription at its QoS [MQTT-3.3.5-1]', async () => {
  const { c, received } = await client('overlap')
  await c.subscribeAsync({ 'overlap/A/#': { qos: 2 }, 'overlap/A/+': { qos: 1 } })
  await c.publishAsync('overlap/A/C', 'overlapping topic filters', { qos: 2 })
  await settled(c, received, 'overlap/A/marker')
  assert.ok(received.length === 1 || received.length === 2, JSON.stringify(received))
  if (received.length === 1) assert.equal(received[0]?.qos, 2)
  else assert.deepEqual(received.map(m => m.qos).sort(), [1, 2])
  await c.endAsync()
})

test('keepalive: a client silent for one and a half keepalives is disconnected, and its will published [MQTT-3.1.2-24]', async () => {
  const watcher = await client('keepalive-watcher')
  await watcher.c.subscribeAsync('keepalive/will', { qos: 2 })
  const silent = rawClient()
  silent.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'keepalive-silent', clean: true, keepalive: 1, will: { topic: 'keepalive/will', payload: Buffer.from('keepalive expiry'), qos: 1, retain: false } })
  assert.equal(((await silent.next('connack')) as { returnCode: number }).returnCode, 0)
  await silent.closed // it sends nothing more, not even PINGREQ: the server closes it
  await waitFor('the will', () => watcher.received.some(m => m.payload === 'keepalive expiry'))
  await watcher.c.endAsync()
})

test('redelivery on reconnect: unacknowledged QoS 1 and 2 messages are sent again, with their packet ids, when the session resumes [MQTT-4.4.0-1]', async () => {
  const connect = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'redelivery', clean: false, keepalive: 0 }
  const first = rawClient()
  first.send(connect)
  await first.next('connack')
  first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'redelivery/#', qos: 2 }] })
  await first.next('suback')
  const publisher = await client('redelivery-publisher')
  await publisher.c.publishAsync('redelivery/qos1', 'one', { qos: 1 })
  await publisher.c.publishAsync('redelivery/qos2', 'two', { qos: 2 })
  // received, never acknowledged (no PUBACK, no PUBREC), and the connection goes
  const sent = [await first.next('publish'), await first.next('publish')] as Array<{ topic: string, qos: number, messageId: number }>
  first.socket.destroy()
  await first.closed
  const second = rawClient()
  second.send(connect)
  assert.equal(((await second.next('connack')) as { sessionPresent: boolean }).sessionPresent, true)
  const again = [await second.next('publish'), await second.next('publish')] as Array<{ topic: string, qos: number, messageId: number }>
  // (Aedes 1.2 sends them again without DUP, which [MQTT-3.3.1-1] asks for; no client relies on it)
  const summary = (packets: typeof sent): unknown[] => packets.map(p => [p.topic, p.qos, p.messageId]).sort()
  assert.deepEqual(summary(again), summary(sent))
  assert.deepEqual(again.map(p => p.topic).sort(), ['redelivery/qos1', 'redelivery/qos2'])
  second.send({ cmd: 'disconnect' })
  second.socket.end()
  await publisher.c.endAsync()
  const clean = await client('redelivery', { clean: true })
  await clean.c.endAsync()
})

test('zero-length client id: refused with CONNACK 2 under clean session 0 [MQTT-3.1.3-8], given an id by the server under clean session 1 [MQTT-3.1.3-6]', async () => {
  const refused = rawClient()
  const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 })
  packet[9] = (packet[9] as number) & ~0x02 // clean session 0, set by hand: mqtt-packet will not write it [MQTT-3.1.2.4]
  refused.socket.write(packet)
  assert.equal(((await refused.next('connack')) as { returnCode: number }).returnCode, 2)
  await refused.closed // [MQTT-3.2.2-5]
  const assigned = rawClient()
  assigned.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 })
  assert.equal(((await assigned.next('connack')) as { returnCode: number }).returnCode, 0)
  assigned.send({ cmd: 'disconnect' })
  await assigned.closed
})

test('subscribe failure: a filter the client may not subscribe to gets return code 0x80 in its SUBACK, the others are granted [MQTT-3.9.3-2]', async () => {
  const raw = rawClient()
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'subscribe-failure', clean: true, keepalive: 0 })
  await raw.next('connack')
  // requests in flight are not for operators to read (docs/management.md): the deny rule this needs
  raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'rpc/any/#', qos: 2 }, { topic: 'failure/ok', qos: 1 }] })
  const suback = await raw.next('suback') as { messageId: number, granted: number[] }
  assert.deepEqual([suback.messageId, suback.granted], [7, [0x80, 1]])
  raw.send({ cmd: 'disconnect' })
  await raw.closed
})

test('$ topics: a filter starting with a wildcard does not match a topic starting with $ [MQTT-4.7.2-1]', async () => {
  const { c, received } = await client('dollar')
  await c.subscribeAsync({ '#': { qos: 2 }, '+/+': { qos: 2 } })
  await c.publishAsync('$dollar/A/B', 'hidden', { qos: 1 })
  await settled(c, received, 'dollar/marker')
  assert.deepEqual(received.filter(m => m.topic.startsWith('$')), [])
  await c.endAsync()
})

test('unsubscribe: messages stop for the filter unsubscribed and go on for the others [MQTT-3.10.4-2]', async () => {
  const { c, received } = await client('unsubscriber')
  await c.subscribeAsync({ 'unsub/A': { qos: 2 }, 'unsub/A/B': { qos: 2 }, 'unsub/C': { qos: 2 } })
  await c.unsubscribeAsync('unsub/A')
  const publisher = await client('unsub-publisher')
  for (const topic of ['unsub/A', 'unsub/A/B', 'unsub/C']) await publisher.c.publishAsync(topic, topic, { qos: 1 })
  await settled(publisher.c, received, 'unsub/C')
  assert.deepEqual(received.map(m => m.topic), ['unsub/A/B', 'unsub/C'])
  await c.endAsync()
  await publisher.c.endAsync()
})
