// Client ids (core/broker/client-ids.ts): what a client id may hold, who may take over whose session, and
// what wildcard subscriptions bring (access.ts canRead); over real sockets against a real gateway.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startTestGateway, connectOperator, fixture, poll, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { MAX_CLIENT_ID_BYTES, MAX_PERSISTENT_SESSIONS, clientIdProblem, sessionOwners } from '../../core/broker/client-ids.js'
import type { Identity } from '../../core/broker/access.js'
import { encodeCbor } from '../../core/protocol/codec.js'
import { PASSWORDS, operators } from './helpers.js'

let gw: TestGateway
let withPasswords: string // operators only
let anonymous: string
let admin: Operator
let viewer: Operator
const clients: MqttClient[] = []

before(async () => {
  gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0 },
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true },
      ],
    },
    operators: await operators(),
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  withPasswords = gw.url
  anonymous = gw.gateway.broker.listeners[1]?.url ?? ''
  admin = await connectOperator(withPasswords, { username: 'admin', password: PASSWORDS.admin })
  viewer = await connectOperator(withPasswords, { username: 'viewer', password: PASSWORDS.viewer })
})

after(async () => {
  await Promise.all(clients.map(c => c.endAsync(true)))
  await admin?.end()
  await viewer?.end()
  await gw?.stop()
})

const as = {
  admin: { username: 'admin', password: PASSWORDS.admin },
  viewer: { username: 'viewer', password: PASSWORDS.viewer },
  anonymous: {},
}

/** connects (kept open until the end of the file) or returns the CONNACK return code it was refused with */
async function connect (url: string, options: mqtt.IClientOptions): Promise<MqttClient | number> {
  try {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options }, false)
    clients.push(client)
    return client
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}

async function connackCode (url: string, options: mqtt.IClientOptions): Promise<number> {
  const client = await connect(url, options)
  if (typeof client === 'number') return client
  await client.endAsync()
  return 0
}

/** The CONNACK return code for a CONNECT written by hand (mqtt.js cannot send a client id that is not UTF-8). */
async function rawConnack (url: string, packet: Buffer): Promise<number> {
  const { hostname, port } = new URL(url)
  const socket = net.connect({ host: hostname, port: Number(port) })
  try {
    return await new Promise<number>((resolve, reject) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', p => { if (p.cmd === 'connack') resolve(p.returnCode ?? -1) })
      socket.on('data', chunk => parser.parse(chunk))
      socket.once('error', reject)
      socket.once('close', () => reject(new Error('closed without a CONNACK')))
      socket.write(packet)
    })
  } finally {
    socket.destroy()
  }
}

/** the return code a SUBSCRIBE of one filter gets: its granted QoS, or 0x80 [MQTT-3.9.3-2] */
async function suback (client: MqttClient, filter: string): Promise<number> {
  try {
    return (await client.subscribeAsync(filter))[0]?.qos ?? -1
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted?.[0]
    if (granted === undefined) throw err
    return granted
  }
}

function connectPacket (clientId: string, clean: boolean): Buffer {
  const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 })
  // the clean session flag is bit 1 of the connect flags [MQTT-3.1.2.4], set by hand: mqtt-packet refuses
  // to write a zero-length client id without it
  if (!clean) packet[9] = (packet[9] as number) & ~0x02
  return packet
}

function deniedConnect (clientId: string, why: RegExp): boolean {
  return gw.logs.some(l => l.text.includes('denied connect') && l.text.includes(clientId) && why.test(l.text))
}

test('issue 10 A2: a client id that could name another topic, hides characters or is too long is refused with CONNACK 2', async () => {
  const refused = ['#', '+', 'a/b', 'x#', 'nul\u0000x', 'bell\u0007', 'del\u007f', 'c1\u0085', 'a'.repeat(MAX_CLIENT_ID_BYTES + 1), 'é'.repeat(MAX_CLIENT_ID_BYTES / 2 + 1)]
  for (const clientId of refused) {
    assert.equal(await connackCode(anonymous, { clientId, ...as.anonymous }), 2, JSON.stringify(clientId))
    assert.notEqual(clientIdProblem(clientId), null)
  }
  // the original hole: a viewer connected as `#` was granted reply/# and read every admin's replies
  assert.equal(await connackCode(withPasswords, { clientId: '#', ...as.viewer }), 2)
  assert.ok(deniedConnect('#', /it names the topic reply\/<client id>/))
  // at the limit: 128 bytes, in ASCII or in two-byte characters
  assert.equal(await connackCode(anonymous, { clientId: 'a'.repeat(MAX_CLIENT_ID_BYTES) }), 0)
  assert.equal(await connackCode(anonymous, { clientId: 'é'.repeat(MAX_CLIENT_ID_BYTES / 2) }), 0)
  assert.equal(await connackCode(anonymous, { clientId: 'ops laptop:1 (ü)' }), 0, 'spaces, colons and non-ASCII letters are fine')

  // not UTF-8 [MQTT-1.5.3-1]: 0xC3 0x28 is a broken two-byte sequence
  const packet = connectPacket('bad-XY', true)
  const at = packet.indexOf('XY')
  packet[at] = 0xc3
  packet[at + 1] = 0x28
  assert.equal(await rawConnack(anonymous, packet), 2)
  assert.ok(deniedConnect('bad-', /control character or invalid UTF-8/))
})

test('issue 10 C: a zero-length client id with clean session 0 gets CONNACK 2 [MQTT-3.1.3-8]; with clean session 1 the broker assigns a valid one', async () => {
  assert.equal(await rawConnack(anonymous, connectPacket('', false)), 2) // (mqtt.js will not send it)
  assert.ok(deniedConnect('', /zero-length client id with clean session 0 \[MQTT-3\.1\.3-8\]/))
  const client = await connect(anonymous, { clientId: '', clean: true })
  assert.equal(typeof client, 'object')
  const assigned = Object.keys((gw.gateway.broker.aedes as unknown as { clients: Record<string, unknown> }).clients).filter(id => id.startsWith('aedes_'))
  assert.equal(assigned.length, 1)
  assert.equal(clientIdProblem(assigned[0] as string), null)
  await (client as MqttClient).endAsync()
})

test('issue 10 A3: a module instance id belongs to module processes only: no operator or anonymous client can knock the module off', async () => {
  const alpha = () => gw.gateway.modules.require('alpha').instances[0]
  const pid = alpha()?.process?.pid
  assert.equal(await connackCode(withPasswords, { clientId: 'alpha.0', ...as.viewer }), 2)
  assert.equal(await connackCode(withPasswords, { clientId: 'alpha.0', ...as.admin }), 2)
  assert.equal(await connackCode(anonymous, { clientId: 'alpha.0' }), 2)
  assert.equal(await connackCode(anonymous, { clientId: 'alpha.7' }), 2, 'an instance that does not run is reserved too: nobody may wait in its place')
  assert.ok(deniedConnect('alpha.0', /only module processes may use/))
  assert.equal((await admin.call('alpha', 'echo', 'still here')).result, 'still here')
  assert.equal(alpha()?.process?.pid, pid, 'the module was never disconnected')
  assert.equal(alpha()?.state.status, 'running')
})

test('issue 10 A3: a connected client\'s id cannot be taken by another identity (the holder keeps its session); the same identity takes it over', async () => {
  // the viewer's id, by the admin and by an anonymous client: refused, and the viewer still gets its replies
  assert.equal(await connackCode(withPasswords, { clientId: viewer.clientId, ...as.admin }), 2)
  assert.equal(await connackCode(anonymous, { clientId: viewer.clientId }), 2)
  assert.ok(deniedConnect(viewer.clientId, /is held by another identity/))
  assert.equal(viewer.client.connected, true)
  assert.equal(Array.isArray((await viewer.call('core', 'list')).result), true)

  // the same operator again: MQTT's takeover [MQTT-3.1.4-2], the old connection is closed
  const first = await connect(withPasswords, { clientId: 'noc-1', ...as.viewer }) as MqttClient
  const closed = new Promise<void>(resolve => first.once('close', () => resolve()))
  const second = await connect(withPasswords, { clientId: 'noc-1', ...as.viewer })
  assert.equal(typeof second, 'object')
  await closed
  await (second as MqttClient).endAsync()
  // once the id's clean session is over, anyone may use it
  await waitFor('the id to be free', () => !((gw.gateway.broker.aedes as unknown as { clients: Record<string, unknown> }).clients['noc-1'] !== undefined))
  assert.equal(await connackCode(withPasswords, { clientId: 'noc-1', ...as.admin }), 0)
})

test('issue 10 A3: a persistent session (clean session 0) stays with its identity after it disconnects', async () => {
  const kept = await connect(withPasswords, { clientId: 'admin-kept', clean: false, ...as.admin }) as MqttClient
  await kept.subscribeAsync('hooks/alpha/+', { qos: 1 })
  await kept.endAsync()
  assert.equal(await connackCode(anonymous, { clientId: 'admin-kept', clean: false }), 2, 'another identity would get its queued messages')
  assert.equal(await connackCode(withPasswords, { clientId: 'admin-kept', clean: true, ...as.viewer }), 2, 'or wipe it')
  const back = await connect(withPasswords, { clientId: 'admin-kept', clean: false, ...as.admin }) as MqttClient
  assert.equal(typeof back, 'object')
  await back.endAsync()
})

test('issue 10 review: a persistent session is for admins only (it queues messages while away, without a bound); the module socket takes module credentials only', async () => {
  assert.equal(await connackCode(withPasswords, { clientId: 'viewer-kept', clean: false, ...as.viewer }), 5)
  assert.ok(gw.logs.some(l => l.text.includes('a persistent session (clean session 0) is for admins only')))
  const moduleSocket = `mqtt+unix://${gw.gateway.broker.moduleUrl.slice('unix:'.length)}`
  assert.equal(await connackCode(moduleSocket, { clientId: 'ops-1', ...as.admin }), 5, 'an operator, even with the right password')
  assert.equal(await connackCode(moduleSocket, { clientId: 'anon-1' }), 5, 'anonymous')
  assert.ok(gw.logs.some(l => l.text.includes('the module socket takes module credentials only')))
})

test('issue 10 A3: $SYS is for operators with the admin role; viewers and anonymous clients get SUBACK 0x80', async () => {
  const anon = await connect(anonymous, {}) as MqttClient
  assert.equal(await suback(viewer.client, '$SYS/#'), 0x80)
  assert.equal(await suback(viewer.client, '$SYS/+/new/clients'), 0x80)
  assert.equal(await suback(anon, '$SYS/#'), 0x80)
  assert.ok(gw.logs.some(l => l.text.includes('denied subscribe $SYS/#')))
  assert.equal(await suback(admin.client, '$SYS/+/new/clients'), 0)
  const seen: string[] = []
  const onMessage = (topic: string, payload: Buffer): void => { if (topic.endsWith('/new/clients')) seen.push(payload.toString()) }
  admin.client.on('message', onMessage)
  await connackCode(anonymous, { clientId: 'sys-watch' })
  await waitFor('the admin to see the new client', () => seen.includes('sys-watch'))
  admin.client.off('message', onMessage)
  await anon.endAsync()
})

test('issue 10 C: # and +/+ are granted to a viewer, who gets through them neither requests nor other clients\' replies, on either path', async () => {
  const watcher = await connect(withPasswords, { clientId: 'watcher', ...as.viewer }) as MqttClient
  const granted = await watcher.subscribeAsync({ '#': { qos: 1 }, '+/+': { qos: 1 }, '+/+/+': { qos: 1 } })
  assert.deepEqual(granted.map(g => g.qos), [1, 1, 1])
  const heard: string[] = []
  watcher.on('message', topic => heard.push(topic))
  // a module's request and reply (direct path), a request to core and the core's reply (Aedes's path)
  assert.equal((await admin.call('alpha', 'echo', 1)).result, 1)
  assert.equal(Array.isArray((await admin.call('core', 'list')).result), true)
  // the admin's own reply topic, written to at QoS 1 (Aedes's path) and QoS 0 (direct path)
  const unasked = encodeCbor({ id: 'unasked', result: null })
  await admin.client.publishAsync(`reply/${admin.clientId}`, unasked, { qos: 1 })
  await admin.client.publishAsync(`reply/${admin.clientId}`, unasked, { qos: 0 })
  // what a viewer may read, last, both ways
  await admin.client.publishAsync('hooks/alpha/zero', 'x', { qos: 0 })
  await admin.client.publishAsync('hooks/alpha/one', 'x', { qos: 1 })
  await poll(async () => (heard.includes('hooks/alpha/zero') && heard.includes('hooks/alpha/one') ? true : undefined))
  assert.deepEqual(heard.filter(t => t.startsWith('rpc/') || t.startsWith('reply/')), [], heard.join(' '))
  await watcher.endAsync()
})

test('issue 10 A3: persistent sessions remembered are bounded: past the maximum a new one gets CONNACK 3, a known one or a clean one still connects', () => {
  const owners = sessionOwners()
  const operator = (clientId: string): Identity => ({ kind: 'operator', clientId, user: 'ops', role: 'admin' })
  const never = (): void => {}
  for (let i = 0; i < MAX_PERSISTENT_SESSIONS; i++) {
    assert.equal(owners.refusal(operator(`p-${i}`), false), null)
    owners.hold(operator(`p-${i}`), false, never)
  }
  assert.deepEqual(owners.refusal(operator('one-more'), false)?.returnCode, 3)
  assert.equal(owners.refusal(operator('p-7'), false), null, 'the same identity resumes its own session')
  assert.equal(owners.refusal(operator('one-more'), true), null, 'a clean session keeps nothing after it')
  const other: Identity = { kind: 'operator', clientId: 'p-7', user: 'noc', role: 'viewer' }
  assert.equal(owners.refusal(other, true)?.returnCode, 2)
  // a persistent session that is resumed as a clean one is over: its slot is free again
  let release = never
  owners.hold(operator('p-7'), true, r => { release = r })
  release()
  assert.equal(owners.refusal(operator('one-more'), false), null)
})
