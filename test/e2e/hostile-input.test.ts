// What a viewer, a module or any client can send the broker that it must survive (issue 10 A1, A4, A7, A8,
// A11, B1): a real gateway, real module processes, real MQTT clients and hand-made packets over real sockets.
// After each attack the core still answers, and the victim got nothing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startTestGateway, fixture, waitFor, poll } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { readEnvelopeId } from '../../core/protocol/envelope-head.js'
import { MAX_SUBSCRIPTIONS, STORE_LIMITS } from '../../core/broker/limits.js'
import { MAX_TOPIC_BYTES } from '../../core/protocol/topics.js'
import { PASSWORDS, managementFixture, operators } from '../management/helpers.js'

let gw: TestGateway
let anonymousUrl: string
let n = 0

before(async () => {
  gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }, { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    operators: await operators(),
    modules: [
      { name: 'alpha', entry: fixture('echo') },
      // evil may call only itself
      { name: 'evil', entry: managementFixture('intruder'), calls: ['evil'], restart: { backoff: { initialMs: 50, maxMs: 200 }, intensity: { maxRestarts: 100, windowMs: 60_000 } } },
    ],
  })
  anonymousUrl = gw.gateway.broker.listeners[1]?.url ?? ''
})

after(async () => {
  await gw?.stop()
})

interface Client {
  client: MqttClient
  id: string
  reply: string
  /** every payload received on the own reply topic, in order */
  replies: Buffer[]
  /** publishes `payload` on `topic` and resolves with the next reply that `match` accepts */
  ask (topic: string, payload: Buffer | string, match?: (reply: Buffer) => boolean): Promise<Buffer>
  closed: Promise<void>
}

async function connect (user?: 'admin' | 'viewer', id = `hostile-${process.pid}-${++n}`): Promise<Client> {
  const client = await mqtt.connectAsync(user === undefined ? anonymousUrl : gw.url, {
    protocolVersion: 4, clientId: id, reconnectPeriod: 0, ...(user === undefined ? {} : { username: user, password: PASSWORDS[user] }),
  })
  const reply = `reply/${id}`
  const replies: Buffer[] = []
  const waiting: Array<{ match: (reply: Buffer) => boolean, resolve: (reply: Buffer) => void }> = []
  client.on('message', (topic, payload) => {
    if (topic !== reply) return
    replies.push(payload)
    const i = waiting.findIndex(w => w.match(payload))
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(payload)
  })
  await client.subscribeAsync(reply)
  const closed = new Promise<void>(resolve => client.once('close', () => resolve()))
  return {
    client,
    id,
    reply,
    replies,
    closed,
    ask (topic, payload, match = () => true) {
      return new Promise(resolve => {
        waiting.push({ match, resolve })
        client.publish(topic, payload)
      })
    },
  }
}

const cbor = (payload: Buffer): any => decodeCbor(payload)
// the id as it is on the wire, with its CBOR type: the decoder reads any 64-bit integer as a number (docs/protocol.md, "Numbers")
const hasId = (id: unknown) => (payload: Buffer): boolean => readEnvelopeId(payload, false) === id

/** the core (and a module) still answer: nothing above took the gateway down */
async function stillServing (): Promise<void> {
  const admin = await connect('admin')
  const list = cbor(await admin.ask('rpc/core/list', encodeCbor({ id: 1, reply: admin.reply })))
  assert.ok(Array.isArray(list.result), 'core.list answers')
  const echo = cbor(await admin.ask('rpc/alpha/echo', encodeCbor({ id: 2, reply: admin.reply, args: 'still here' })))
  assert.equal(echo.result, 'still here')
  await admin.client.endAsync()
}

const deep = (depth: number, open: string, close: string): string => open.repeat(depth) + close.repeat(depth)
/** a CBOR request whose args are arrays nested `depth` deep, written by hand (no encoder recurses that far) */
function deepCbor (id: number, reply: string, depth: number): Buffer {
  const head = encodeCbor({ id, reply })
  // the map's first byte says two entries: make it three and append "args": [[[…0…]]]
  head[0] = 0xa3
  return Buffer.concat([head, encodeCbor('args'), Buffer.alloc(depth, 0x81), Buffer.from([0])])
}

test('issue 10 A1: a viewer\'s JSON request nested 20,000 deep gets BAD_REQUEST naming the depth limit, and the core lives on', async () => {
  const viewer = await connect('viewer')
  const request = `{"id":7,"reply":"${viewer.reply}","args":${deep(20_000, '[', ']')}}`
  const reply = JSON.parse(String(await viewer.ask('rpc/core/list', request)))
  assert.equal(reply.id, 7)
  assert.equal(reply.error.code, 'BAD_REQUEST')
  assert.match(reply.error.message, /JSON payload nested deeper than 64 levels/)
  assert.deepEqual(reply.error.details, { maxDepth: 64 })
  // one level less than the limit is fine, with objects too
  const ok = JSON.parse(String(await viewer.ask('rpc/core/list', `{"id":8,"reply":"${viewer.reply}","args":${'{"a":'.repeat(63)}1${'}'.repeat(63)}}`)))
  assert.equal(ok.id, 8)
  await viewer.client.endAsync()
  await stillServing()
})

test('issue 10 A1: CBOR nested 20,000 deep gets BAD_REQUEST from the core and from a module, each naming the limit', async () => {
  const admin = await connect('admin')
  const toCore = cbor(await admin.ask('rpc/core/list', deepCbor(11, admin.reply, 20_000), hasId(11)))
  assert.equal(toCore.error.code, 'BAD_REQUEST')
  assert.match(toCore.error.message, /CBOR payload nested deeper than 64 levels/)
  const toModule = cbor(await admin.ask('rpc/alpha/echo', deepCbor(12, admin.reply, 20_000), hasId(12)))
  assert.equal(toModule.error.code, 'BAD_REQUEST')
  assert.match(toModule.error.message, /nested deeper than 64 levels/)
  assert.deepEqual([toCore.error.details, toModule.error.details], [{ maxDepth: 64 }, { maxDepth: 64 }])
  // at the limit: the arguments' 63 levels plus the envelope's map make 64
  const atLimit = cbor(await admin.ask('rpc/alpha/echo', deepCbor(13, admin.reply, 63), hasId(13)))
  assert.equal(atLimit.error, undefined)
  await admin.client.endAsync()
  await stillServing()
})

/** a request whose args are `content` (CBOR bytes), appended to the envelope's map as deepCbor does */
function withArgs (id: number, reply: string, content: Buffer): Buffer {
  const head = encodeCbor({ id, reply })
  head[0] = 0xa3
  return Buffer.concat([head, encodeCbor('args'), content])
}

/** an array of `count` empty byte strings (one byte each), as CBOR */
function emptyByteStrings (count: number): Buffer {
  const head = Buffer.from([0x9a, 0, 0, 0, 0])
  head.writeUInt32BE(count, 1)
  return Buffer.concat([head, Buffer.alloc(count, 0x40)])
}

test('review 5: a viewer\'s request of 250,000 empty byte strings (28 MiB once decoded) gets BAD_REQUEST from the core and from a module, naming the limit; at the limit it passes', async () => {
  const viewer = await connect('viewer')
  const toCore = cbor(await viewer.ask('rpc/core/list', withArgs(21, viewer.reply, emptyByteStrings(250_000)), hasId(21)))
  const admin = await connect('admin')
  const toModule = cbor(await admin.ask('rpc/alpha/echo', withArgs(22, admin.reply, emptyByteStrings(250_000)), hasId(22)))
  for (const answer of [toCore, toModule]) {
    assert.equal(answer.error.code, 'BAD_REQUEST')
    assert.match(answer.error.message, /CBOR payload holds more than 65536 arrays, maps, tags and byte strings/)
    assert.deepEqual(answer.error.details, { maxObjects: 65_536 })
  }
  // the envelope's map and the array count too: 65,534 byte strings make 65,536 objects, one more is over
  const atLimit = cbor(await admin.ask('rpc/alpha/echo', withArgs(23, admin.reply, emptyByteStrings(65_534)), hasId(23)))
  assert.equal(atLimit.error, undefined, JSON.stringify(atLimit.error))
  assert.equal(atLimit.result.length, 65_534)
  const over = cbor(await admin.ask('rpc/alpha/echo', withArgs(24, admin.reply, emptyByteStrings(65_535)), hasId(24)))
  assert.deepEqual(over.error?.details, { maxObjects: 65_536 })
  await viewer.client.endAsync()
  await admin.client.endAsync()
  await stillServing()
})

test('review 2: CBOR tags that make cycles, repeats or objects (28/29, 51/6, 27, 258, 259) get BAD_REQUEST from the core and from a module, naming the tag', async () => {
  const admin = await connect('admin')
  const tags: Array<[number, Buffer]> = [
    [28, Buffer.from([0xd8, 0x1c, 0x81, 0xd8, 0x1d, 0x00])], // an array holding itself
    [27, Buffer.concat([Buffer.from([0xd8, 0x1b, 0x82]), encodeCbor('Error'), encodeCbor('\x1b]0;x\x07')])],
    [258, Buffer.from([0xd9, 0x01, 0x02, 0x81, 0x01])],
    [259, Buffer.from([0xd9, 0x01, 0x03, 0xa1, 0x01, 0x02])],
    [51, Buffer.from([0xd8, 0x33, 0x84, 0x81, 0x01, 0x80, 0x80, 0xc6, 0x00])],
  ]
  let id = 500
  for (const [tag, content] of tags) {
    for (const topic of ['rpc/core/list', 'rpc/alpha/echo']) {
      const answer = cbor(await admin.ask(topic, withArgs(++id, admin.reply, content), hasId(id)))
      assert.equal(answer.error?.code, 'BAD_REQUEST', `${topic} tag ${tag}: ${JSON.stringify(answer)}`)
      assert.match(answer.error.message, new RegExp(`tag ${tag} \\([a-z ]+\\) is not plain data`))
    }
  }
  // a date (tag 1) is data, as docs/protocol.md says
  const dated = cbor(await admin.ask('rpc/alpha/echo', withArgs(++id, admin.reply, Buffer.from([0xc1, 0x1a, 0x5f, 0x5e, 0x10, 0x00])), hasId(id)))
  assert.equal(dated.error, undefined, JSON.stringify(dated))
  await admin.client.endAsync()
  await stillServing()
})

test('issue 10 A4: a module cannot forge replies: a request naming another caller\'s reply topic is refused, on either route', async () => {
  const admin = await connect('admin')
  for (const qos of [0, 1] as const) { // QoS 0: the direct path; QoS 1: Aedes
    const forgedId = 4200 + qos
    const denials = gw.logs.filter(l => /denied publish rpc\/evil\/x/.test(l.text)).length
    // the refusal before this one closed evil's connection: its state may still say running until the core
    // sees its process go, so ask until a live instance answers (UNAVAILABLE until then)
    const sent = await poll(async () => {
      const answer = cbor(await admin.ask('rpc/evil/try', encodeCbor({ id: 100 + qos, reply: admin.reply, args: { action: 'publish', topic: 'rpc/evil/x', qos, envelope: { id: forgedId, reply: admin.reply } } }), hasId(100 + qos)))
      return answer.error?.code === 'UNAVAILABLE' ? undefined : answer
    })
    assert.equal(sent.result, 'sent')
    await waitFor('the forged request refused', () => gw.logs.filter(l => /denied publish rpc\/evil\/x/.test(l.text)).length > denials)
    assert.match(gw.logs.filter(l => /denied publish rpc\/evil\/x/.test(l.text)).at(-1)?.text ?? '', /only its caller's own reply topic \(reply\/evil\.0\)/)
    // a call after it comes back, and nothing carried the forged id before it
    const marker = cbor(await admin.ask('rpc/alpha/echo', encodeCbor({ id: 300 + qos, reply: admin.reply, args: 1 }), hasId(300 + qos)))
    assert.equal(marker.result, 1)
    assert.ok(!admin.replies.some(hasId(forgedId)), 'the victim received no reply to a request it never made')
  }
  await admin.client.endAsync()
})

test('issue 10 A4: a viewer naming an admin\'s reply topic is refused; another connection of the same operator may name it', async () => {
  const admin = await connect('admin')
  const viewer = await connect('viewer')
  viewer.client.publish('rpc/core/list', encodeCbor({ id: 77, reply: admin.reply }))
  await viewer.closed // a refused PUBLISH closes the connection: MQTT 3.1.1 cannot refuse one
  const sameUser = await connect('admin')
  sameUser.client.publish('rpc/core/list', encodeCbor({ id: 78, reply: admin.reply }))
  await waitFor('the reply at the same operator\'s other connection', () => admin.replies.some(hasId(78)))
  assert.ok(!admin.replies.some(hasId(77)))
  await sameUser.client.endAsync()
  await admin.client.endAsync()
})

test('issue 10 review: a request to core that repeats its reply key is checked on the reply the core would answer on', async () => {
  const admin = await connect('admin')
  const viewer = await connect('viewer')
  // { id: 79, reply: <its own>, reply: <the admin's> }: the first passes a check of the leading entries, the last is what a decoder keeps
  const forged = Buffer.concat([Buffer.from([0xa3]), encodeCbor('id'), encodeCbor(79), encodeCbor('reply'), encodeCbor(viewer.reply), encodeCbor('reply'), encodeCbor(admin.reply)])
  viewer.client.publish('rpc/core/status', forged)
  await viewer.closed
  assert.ok(gw.logs.some(l => l.text.startsWith('denied publish rpc/core/status') && /own reply topic/.test(l.text)))
  await stillServing()
  assert.ok(!admin.replies.some(hasId(79)), 'the admin got no reply it did not ask for')
  await admin.client.endAsync()
})

test('issue 10 A8: RETAIN is refused on rpc/ and reply/ topics', async () => {
  for (const topic of ['rpc/alpha/echo', 'reply/somebody']) {
    const admin = await connect('admin')
    admin.client.publish(topic, encodeCbor({ id: 1, reply: admin.reply }), { retain: true, qos: 1 })
    await admin.closed
    assert.ok(gw.logs.some(l => l.text.startsWith(`denied publish ${topic}`) && /RETAIN is refused on rpc\/ and reply\/ topics/.test(l.text)))
  }
  await stillServing()
})

test('issue 10 A7: retained messages are bounded per publisher, in bytes and in topics, with the use in status', async () => {
  const admin = await connect('admin')
  const big = Buffer.alloc(200 * 1024, 1)
  const fit = Math.floor(STORE_LIMITS.retainedBytes / big.length) // 5 of 200 KiB fit in 1 MiB
  for (let i = 0; i < fit; i++) await admin.client.publishAsync(`hooks/big/${i}`, big, { retain: true, qos: 1 })
  assert.deepEqual(gw.gateway.broker.retainedBy('operator admin'), { topics: fit, bytes: fit * big.length })
  // clearing one (an empty retained payload) makes room again
  await admin.client.publishAsync('hooks/big/0', Buffer.alloc(0), { retain: true, qos: 1 })
  await admin.client.publishAsync('hooks/big/0', big, { retain: true, qos: 1 })
  admin.client.publish(`hooks/big/${fit}`, big, { retain: true, qos: 1 })
  await admin.closed
  assert.ok(gw.logs.some(l => l.text.startsWith(`denied publish hooks/big/${fit}`) && /over the limit of 1048576/.test(l.text)))
  assert.deepEqual(gw.gateway.broker.retainedBy('operator admin'), { topics: fit, bytes: fit * big.length })

  // a module's topics: its presence and as many retained hooks as make the limit
  const caller = await connect('admin')
  await waitFor('evil running', () => gw.gateway.modules.require('evil').instances[0]?.state.status === 'running')
  const hooks = STORE_LIMITS.retainedTopics - 1
  await caller.ask('rpc/evil/try', encodeCbor({ id: 1, reply: caller.reply, args: { action: 'publish', topic: 'hooks/evil/h', count: hooks, retain: true, qos: 1 } }), hasId(1))
  const status = async (): Promise<any> => cbor(await caller.ask('rpc/core/status', encodeCbor({ id: ++n, reply: caller.reply, args: { module: 'evil' } }), hasId(n))).result
  await poll(async () => ((await status()).limits.retained.topics === STORE_LIMITS.retainedTopics ? true : undefined)) // evil's presence and every hook
  assert.deepEqual((await status()).limits.retained, { topics: STORE_LIMITS.retainedTopics, bytes: (await status()).limits.retained.bytes, maxTopics: STORE_LIMITS.retainedTopics, maxBytes: STORE_LIMITS.retainedBytes })
  await caller.ask('rpc/evil/try', encodeCbor({ id: 2, reply: caller.reply, args: { action: 'publish', topic: 'hooks/evil/one-more', retain: true } }), hasId(2))
  await waitFor('the 65th retained topic refused', () => gw.logs.some(l => l.text.startsWith('denied publish hooks/evil/one-more') && /module evil holds 64 retained topics already/.test(l.text)))
  assert.equal((await status()).limits.retained.topics, STORE_LIMITS.retainedTopics)
  await caller.client.endAsync()
})

test('issue 10 A7: calls in flight from one caller to one instance stop at the limit with TOO_MANY_CALLS, counted in status', async () => {
  const admin = await connect('admin')
  const limit = STORE_LIMITS.pendingCallsPerCaller
  // held for as long as the router allows, whatever the request asks (2^32 ms)
  for (let i = 0; i < limit; i++) admin.client.publish('rpc/alpha/slow', encodeCbor({ id: 1000 + i, reply: admin.reply, timeout: 2 ** 32, args: 20_000 }))
  const refused = cbor(await admin.ask('rpc/alpha/slow', encodeCbor({ id: 999, reply: admin.reply, args: 1 }), hasId(999)))
  assert.equal(refused.error.code, 'TOO_MANY_CALLS')
  assert.match(refused.error.message, new RegExp(`alpha\\.slow refused: ${limit} calls from this caller to alpha\\.0 are in flight`))
  const status = cbor(await admin.ask('rpc/core/status', encodeCbor({ id: 998, reply: admin.reply, args: { module: 'alpha' } }), hasId(998))).result
  assert.equal(status.limits.pendingCalls.held, limit)
  assert.equal(status.limits.pendingCalls.maxPerCaller, limit)
  // another caller is not held back by this one
  const other = await connect('admin')
  const echo = cbor(await other.ask('rpc/alpha/echo', encodeCbor({ id: 1, reply: other.reply, args: 'ok' }), hasId(1)))
  assert.equal(echo.result, 'ok')
  await other.client.endAsync()
  await admin.client.endAsync()
})

/** a hand-made PUBLISH [MQTT-3.3]: the topic as raw bytes */
function publishPacket (topic: Buffer, payload: Buffer, qos: 0 | 1): Buffer {
  const length = Buffer.alloc(2)
  length.writeUInt16BE(topic.length)
  const body = Buffer.concat([length, topic, qos === 1 ? Buffer.from([0, 1]) : Buffer.alloc(0), payload])
  const remaining: number[] = []
  let left = body.length
  do {
    remaining.push((left & 0x7f) | (left > 0x7f ? 0x80 : 0))
    left >>= 7
  } while (left > 0)
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...remaining]), body])
}

/** connects anonymously over a raw socket, sends `packet`, and resolves once the broker closes the connection */
async function sendAndBeClosed (packet: Buffer): Promise<void> {
  const { hostname, port } = new URL(anonymousUrl)
  const socket = net.connect({ host: hostname, port: Number(port) })
  const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
  socket.on('error', () => {})
  await new Promise<void>(resolve => {
    socket.once('data', () => resolve()) // CONNACK
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `raw-${++n}`, clean: true, keepalive: 0 }))
  })
  socket.write(packet)
  await closed
}

test('issue 10 A11: a topic with U+0000, bytes that are not UTF-8, or over 100 levels closes the connection on both routes, and is never delivered', async () => {
  const watcher = await connect('admin')
  const seen: string[] = []
  watcher.client.on('message', topic => { if (topic.startsWith('hooks/x/')) seen.push(topic) })
  await watcher.client.subscribeAsync('hooks/x/#')
  const bad = [
    Buffer.from('hooks/x/a\u0000b'), // [MQTT-1.5.3-2]
    Buffer.concat([Buffer.from('hooks/x/'), Buffer.from([0xc3, 0x28])]), // ill-formed UTF-8 [MQTT-1.5.3-1]
    Buffer.concat([Buffer.from('hooks/x/'), Buffer.from([0xed, 0xa0, 0x80])]), // an encoded surrogate
    Buffer.from('hooks/x/' + 'l/'.repeat(150) + 'end'), // 153 levels
  ]
  for (const topic of bad) {
    for (const qos of [0, 1] as const) await sendAndBeClosed(publishPacket(topic, Buffer.from('bad'), qos))
  }
  // a good publish after them arrives, and nothing arrived before it
  const marker = await connect('admin')
  await marker.client.publishAsync('hooks/x/marker', encodeCbor({ data: 1 }))
  await waitFor('the marker', () => seen.includes('hooks/x/marker'))
  assert.deepEqual(seen, ['hooks/x/marker'])
  await marker.client.endAsync()
  await watcher.client.endAsync()
  await stillServing()
})

/** a CBOR map with `id` written as the bytes given (a float, a negative integer …) */
function withRawId (idBytes: Buffer, reply: string): Buffer {
  const rest = encodeCbor({ reply, args: 1 })
  return Buffer.concat([Buffer.from([0xa3]), encodeCbor('id'), idBytes, rest.subarray(1)])
}

test('issue 10 review: topics and filters are at most 1024 bytes, and a client holds at most 256 subscriptions', async () => {
  const admin = await connect('admin')
  const watcher = await connect('admin')
  const heard: string[] = []
  watcher.client.on('message', topic => heard.push(topic))
  await watcher.client.subscribeAsync('hooks/long/#')
  // at the limit: delivered, on both routes (QoS 0 direct, QoS 1 through Aedes)
  const fits = `hooks/long/${'x'.repeat(MAX_TOPIC_BYTES - 'hooks/long/'.length)}`
  await admin.client.publishAsync(fits, Buffer.from([1]), { qos: 0 })
  await admin.client.publishAsync(fits, Buffer.from([1]), { qos: 1 })
  await waitFor('both at the limit delivered', () => heard.filter(t => t === fits).length === 2)
  for (const qos of [0, 1] as const) {
    const sender = await connect('admin')
    sender.client.publish(`${fits}y`, Buffer.from([1]), { qos })
    await sender.closed
  }
  assert.equal(gw.logs.filter(l => /^denied publish hooks\/long\/x+y .*the topic is longer than 1024 bytes/.test(l.text)).length, 2, 'refused on both routes')
  // the SUBACK's return codes (mqtt.js rejects a SUBACK holding 0x80, with the packet)
  const suback = (filters: string[]): Promise<number[]> => watcher.client.subscribeAsync(filters)
    .then(granted => granted.map(g => g.qos as number), (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? [])
  assert.deepEqual(await suback([`hooks/${'f'.repeat(MAX_TOPIC_BYTES - 6)}`, `hooks/${'f'.repeat(MAX_TOPIC_BYTES - 5)}`]), [0, 128], 'a filter of 1024 bytes is granted, one of 1025 refused')
  // two held already (its reply topic and hooks/long/#) and the 1024-byte filter: 253 more reach the limit of 256
  const filters = Array.from({ length: MAX_SUBSCRIPTIONS - 3 }, (_, i) => `hooks/many/${i}`)
  assert.ok((await suback(filters)).every(code => code === 0))
  assert.deepEqual(await suback(['hooks/many/one-more', 'hooks/many/0']), [128, 0], 'the 257th is refused; subscribing again to one held is not a new one')
  assert.equal(heard.length, 2)
  await watcher.client.endAsync()
  await admin.client.endAsync()
  await stillServing()
})

test('issue 10 review: a refused topic with a newline in it cannot forge a line of the core\'s log', async () => {
  const viewer = await connect('viewer')
  viewer.client.publish('hooks/x\n12:00:00.000 core           started evil.0 pid=1', Buffer.from([1]))
  await viewer.closed
  const denied = gw.logs.find(l => l.text.startsWith('denied publish hooks/x\\x0a'))
  assert.match(denied?.text ?? '', /^denied publish hooks\/x\\x0a12:00:00\.000 core {11}started evil\.0 pid=1 /)
  assert.ok(gw.logs.every(l => !/[\n\r]/.test(l.text)))
})

test('issue 10 B1: request ids are CBOR unsigned integers up to 2^64 - 1 or text up to 128 bytes, and a reply carries the very id', async () => {
  const admin = await connect('admin')
  for (const id of [0, 2 ** 32 - 1, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, 'x'.repeat(128)]) {
    const reply = cbor(await admin.ask('rpc/alpha/echo', encodeCbor({ id, reply: admin.reply, args: 'same' }), hasId(id)))
    assert.equal(reply.result, 'same', `id ${String(id)}`)
  }
  // not ids: the callee answers BAD_REQUEST with id 0, and that reaches the caller
  const notIds: Array<[string, Buffer]> = [
    ['-1', encodeCbor(-1)],
    ['2^32 written as a float64 (as JavaScript encoders write it)', encodeCbor(2 ** 32)],
    ['the float 1.0', Buffer.from([0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0])],
    ['129 bytes of text', encodeCbor('x'.repeat(129))],
  ]
  for (const [what, idBytes] of notIds) {
    const before = admin.replies.length
    const reply = cbor(await admin.ask('rpc/alpha/echo', withRawId(idBytes, admin.reply), (payload) => admin.replies.indexOf(payload) >= before))
    assert.equal(reply.id, 0, what)
    assert.equal(reply.error.code, 'BAD_REQUEST', what)
  }
  await admin.client.endAsync()
})

test('issue 10 B1: a module\'s id-0 BAD_REQUEST (it could not read the id) reaches the caller', async () => {
  const admin = await connect('admin')
  await waitFor('evil running', () => gw.gateway.modules.require('evil').instances[0]?.state.status === 'running')
  const reply = cbor(await admin.ask('rpc/evil/try', encodeCbor({ id: 55, reply: admin.reply, args: { action: 'unreadable' } }), hasId(0)))
  assert.deepEqual(reply, { id: 0, error: { code: 'BAD_REQUEST', message: 'could not read the id' } })
  await admin.client.endAsync()
})
