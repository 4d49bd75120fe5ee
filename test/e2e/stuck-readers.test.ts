// Reviews 7 and 8 of issue 10, over real sockets: a client that stops reading holds none of the broker's shared
// delivery slots and at most its backlog of the core's memory on the Aedes path too, however many replies are
// queued for it in one turn, and each reply dropped for it is answered once it reads again; QoS 2 publishes
// awaiting their PUBREL are bounded per client; subscriptions draw on the client's rate bucket per packet, a
// packet naming more filters than a client may hold closes it, a closing connection's unsubscribing is not
// charged, and a client's refused subscriptions are logged once per window and kind of filter.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { MAX_INBOUND_QOS2 } from '../../core/broker/broker.js'
import { MAX_SUBSCRIPTIONS } from '../../core/broker/limits.js'
import { BACKLOG_BYTES } from '../../core/broker/direct.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { startTestGateway, connectOperator, fixture, poll, waitFor } from '../helpers/gateway.js'
import { PASSWORDS, operators } from '../management/helpers.js'

interface RawClient { socket: net.Socket, packets: Packet[], closed: Promise<void> }

/** A client written by hand, so that the test decides what it sends and when it reads. */
async function rawClient (url: string, clientId: string, user?: 'viewer' | 'admin', clean = true): Promise<RawClient> {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  socket.on('error', () => {})
  const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
  const packets: Packet[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', packet => packets.push(packet))
  socket.on('data', chunk => parser.parse(chunk))
  const credentials = user === undefined ? {} : { username: user, password: Buffer.from(PASSWORDS[user]) }
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean, keepalive: 0, ...credentials }))
  await waitFor(`${clientId}'s CONNACK`, () => packets.some(p => p.cmd === 'connack'))
  return { socket, packets, closed }
}

type Aedes = { clients: Record<string, { conn: net.Socket } | undefined>, mq: { current: number } }

test('review 7: a client that stops reading holds no delivery slots and at most its backlog on the Aedes path; management still answers', async (t) => {
  const gw = await startTestGateway({ broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }], drainTimeoutMs: 3000 } })
  t.after(() => gw.stop())
  const aedes = gw.gateway.broker.aedes as unknown as Aedes
  const stuck = await rawClient(gw.url, 'stuck-reader')
  t.after(() => { stuck.socket.destroy() })
  stuck.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hooks/x/#', qos: 0 }] }))
  await waitFor('the SUBACK', () => stuck.packets.some(p => p.cmd === 'suback'))
  stuck.socket.removeAllListeners('data')
  stuck.socket.pause() // from here on nothing is read

  // QoS 1 publishes take Aedes's path (the direct path is for QoS 0): 24 MiB, more than loopback's buffers
  // and the backlog together
  const publisher = await connectOperator(gw.url)
  t.after(() => publisher.end())
  const payload = encodeCbor({ data: Buffer.alloc(64 * 1024, 1) })
  let mostUnsent = 0
  for (let i = 0; i < 384; i++) {
    await publisher.client.publishAsync('hooks/x/big', payload, { qos: 1 })
    mostUnsent = Math.max(mostUnsent, aedes.clients['stuck-reader']?.conn.writableLength ?? 0)
  }
  // each delivery is done once written: none waits on the stuck socket (before: all 200 slots, 5 s each)
  assert.ok(aedes.mq.current < 8, `${aedes.mq.current} deliveries still hold a slot`)
  assert.ok(mostUnsent <= BACKLOG_BYTES + payload.length + 64, `${mostUnsent} bytes unsent to the stuck client (backlog ${BACKLOG_BYTES})`)
  // management goes through the same delivery: it answers
  assert.ok(Array.isArray((await publisher.call('core', 'list', {}, 2500)).result))
  await waitFor('the drop to be logged', () => gw.logs.find(l => /stuck-reader is not reading: dropping/.test(l.text)))
  // the kernel may still take some of the backlog (a drain: "caught up"), or not (disconnected): either way, dropped and said
  const verdict = await waitFor('the verdict on the backlog', () => gw.logs.find(l => /stuck-reader (caught up|did not catch up: disconnected) after \d+ dropped/.test(l.text)), 10_000)
  assert.ok(Number(/after (\d+) dropped/.exec(verdict.text)?.[1]) > 0, verdict.text)
})

test('review 8: a burst of large replies to a caller that does not read stays within its backlog; each reply dropped is answered UNAVAILABLE once it reads again', async (t) => {
  const gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }], drainTimeoutMs: 20_000 },
    // 300 lines of 8000 bytes: core.logs answers of ≈ 2.3 MiB
    modules: [{ name: 'chatty', entry: fixture('biglog'), config: { count: 300, bytes: 8000 } }],
  })
  t.after(() => gw.stop())
  const aedes = gw.gateway.broker.aedes as unknown as Aedes
  const probe = await connectOperator(gw.url)
  t.after(() => probe.end())
  await poll(async () => ((await probe.call('core', 'logs', { module: 'chatty', lines: 1000 }, 10_000)).result as { lines: unknown[] }).lines.length >= 250 ? true : undefined, 100)

  const caller = await rawClient(gw.url, 'slow-caller')
  t.after(() => { caller.socket.destroy() })
  caller.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'reply/slow-caller', qos: 0 }] }))
  await waitFor('the SUBACK', () => caller.packets.some(p => p.cmd === 'suback'))
  caller.socket.pause() // nothing is read from here on
  const CALLS = 40
  // all in one write: the core answers them in one turn, so Aedes queues them all before writing any (review 8:
  // each passed the backlog check then, and 790 MiB waited unsent to one client)
  caller.socket.write(Buffer.concat(Array.from({ length: CALLS }, (_, id) => mqttPacket.generate({
    cmd: 'publish', topic: 'rpc/core/logs', qos: 0, retain: false, dup: false,
    payload: encodeCbor({ id, reply: 'reply/slow-caller', timeout: 60_000, args: { module: 'chatty', lines: 1000 } }),
  }))))
  let mostUnsent = 0
  const answerBytes = 2.5 * 1024 * 1024
  for (const started = Date.now(); Date.now() - started < 2000;) {
    mostUnsent = Math.max(mostUnsent, aedes.clients['slow-caller']?.conn.writableLength ?? 0)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  assert.ok(mostUnsent > 0)
  assert.ok(mostUnsent <= BACKLOG_BYTES + answerBytes, `${mostUnsent} bytes unsent to the caller (backlog ${BACKLOG_BYTES}, one answer up to ${answerBytes})`)
  await waitFor('the drop to be logged', () => gw.logs.find(l => /slow-caller is not reading: dropping/.test(l.text)))

  caller.socket.resume()
  const answered = (): Map<number, { result?: { lines: unknown[] }, error?: { code: string, message: string } }> | undefined => {
    const replies = new Map<number, any>()
    for (const p of caller.packets) if (p.cmd === 'publish') { const body = decodeCbor(p.payload as Buffer) as { id: number }; replies.set(body.id, body) }
    return replies.size === CALLS ? replies : undefined
  }
  const replies = await waitFor('an answer to every call', answered, 20_000)
  let whole = 0
  for (const [id, reply] of replies) {
    if (reply.error === undefined) {
      assert.ok((reply.result?.lines.length ?? 0) >= 250, `call ${id}`)
      whole++
    } else {
      assert.equal(reply.error.code, 'UNAVAILABLE', `call ${id}: ${reply.error.message}`)
      assert.match(reply.error.message, new RegExp(`the reply to this call was dropped: more than ${BACKLOG_BYTES} bytes wait unsent to this client`))
    }
  }
  assert.ok(whole >= 1 && whole < CALLS, `${whole} whole answers of ${CALLS}`)
  await waitFor('the catch-up to be logged', () => gw.logs.find(l => new RegExp(`slow-caller caught up after \\d+ dropped message\\(s\\); ${CALLS - whole} dropped replies answered UNAVAILABLE`).test(l.text)))
})

test(`review 7: a client with ${MAX_INBOUND_QOS2} QoS 2 publishes awaiting their PUBREL is disconnected at the next`, async (t) => {
  const gw = await startTestGateway({ broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] } })
  t.after(() => gw.stop())
  const holder = await rawClient(gw.url, 'qos2-holder')
  t.after(() => { holder.socket.destroy() })
  const publish = (messageId: number): Buffer => mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/q2', payload: encodeCbor({ data: messageId }), qos: 2, messageId, retain: false, dup: false })
  for (let id = 1; id <= MAX_INBOUND_QOS2; id++) holder.socket.write(publish(id))
  await waitFor('a PUBREC for each', () => holder.packets.filter(p => p.cmd === 'pubrec').length === MAX_INBOUND_QOS2)
  // the same packet again (DUP) takes no second place
  holder.socket.write(publish(1))
  await waitFor('its PUBREC again', () => holder.packets.filter(p => p.cmd === 'pubrec').length === MAX_INBOUND_QOS2 + 1)
  holder.socket.write(publish(MAX_INBOUND_QOS2 + 1))
  await holder.closed
  assert.equal(holder.packets.filter(p => p.cmd === 'pubrec').length, MAX_INBOUND_QOS2 + 1)
  // another client is served, and one that releases its publishes may send many more
  const polite = await connectOperator(gw.url)
  t.after(() => polite.end())
  for (let i = 0; i < 3 * MAX_INBOUND_QOS2; i++) await polite.client.publishAsync('hooks/x/q2', encodeCbor({ data: i }), { qos: 2 })
  assert.ok(polite.client.connected)
})

test('review 7: every filter of a SUBSCRIBE draws on the rate bucket, and a client\'s refused subscriptions are logged once per window', async (t) => {
  const gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { rate: { messagesPerSecond: 1, burst: 40, action: 'disconnect' } } },
        { type: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    },
    operators: await operators(),
  })
  t.after(() => gw.stop())
  const limited = gw.gateway.broker.listeners[0]?.url ?? ''
  const viewers = gw.gateway.broker.listeners[1]?.url ?? ''

  // 30 filters, within the burst: answered, the connection kept
  const within = await rawClient(limited, 'subscriber-within')
  t.after(() => { within.socket.destroy() })
  within.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 30 }, (_, i) => ({ topic: `hooks/a${i}/#`, qos: 0 as const })) }))
  const suback = await waitFor('the SUBACK', () => within.packets.find(p => p.cmd === 'suback'))
  assert.equal((suback as { granted: number[] }).granted.length, 30)
  assert.ok(!within.socket.destroyed)
  // 30 more from the same address's bucket (10 left): past it, disconnected
  const over = await rawClient(limited, 'subscriber-over')
  t.after(() => { over.socket.destroy() })
  over.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 30 }, (_, i) => ({ topic: `hooks/b${i}/#`, qos: 0 as const })) }))
  await over.closed
  assert.ok(gw.logs.some(l => /^denied subscribe .*client=subscriber-over .*over the listener's rate limit/.test(l.text)))

  // the same address's other connection closing unsubscribes its 30 filters: not charged (review 8: it was,
  // and closed the address's other connections)
  const other = await rawClient(limited, 'subscriber-other')
  t.after(() => { other.socket.destroy() })
  within.socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
  await within.closed
  for (let i = 0; i < 5; i++) other.socket.write(mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/alive', payload: encodeCbor({ data: i }), qos: 0, retain: false, dup: false }))
  other.socket.write(mqttPacket.generate({ cmd: 'pingreq' }))
  await waitFor('the PINGRESP', () => other.packets.some(p => p.cmd === 'pingresp'))
  assert.ok(!other.socket.destroyed)

  // a viewer's 200 refused filters under reply/: 200 × 0x80, one log line (before: one each)
  const viewer = await rawClient(viewers, 'viewer-refused', 'viewer')
  t.after(() => { viewer.socket.destroy() })
  viewer.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 200 }, (_, i) => ({ topic: `reply/other-${i}`, qos: 0 as const })) }))
  const refused = await waitFor('the SUBACK', () => viewer.packets.find(p => p.cmd === 'suback'))
  assert.deepEqual((refused as { granted: number[] }).granted, Array.from({ length: 200 }, () => 128))
  const lines = gw.logs.filter(l => /^denied subscribe reply\/other-/.test(l.text))
  assert.equal(lines.length, 1, lines.map(l => l.text).join('\n'))
  assert.match(lines[0]?.text ?? '', /further refused subscriptions to filters under reply\/ of this client within 60 s are counted, not logged/)
  // a refusal of another kind is not hidden behind them (review 8: $SYS/# went unlogged)
  viewer.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$SYS/#', qos: 0 }, { topic: 'rpc/core/list', qos: 0 }, { topic: 'reply/#', qos: 0 }] }))
  await waitFor('the second SUBACK', () => viewer.packets.filter(p => p.cmd === 'suback').length === 2)
  assert.ok(gw.logs.some(l => /^denied subscribe \$SYS\/# .*client=viewer-refused/.test(l.text)))
  assert.ok(gw.logs.some(l => /^denied subscribe rpc\/core\/list .*client=viewer-refused/.test(l.text)))
  assert.ok(!viewer.socket.destroyed)
  // what was only counted is told when the client goes (review 8: the count was lost)
  viewer.socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
  await viewer.closed
  const told = await waitFor('the count at disconnect', () => gw.logs.find(l => /client=viewer-refused .*200 more subscription\(s\) to filters under reply\/ were refused since the last one told/.test(l.text)))
  assert.ok(told !== undefined)

  // a SUBSCRIBE or an UNSUBSCRIBE naming more filters than a client may hold: refused, the client disconnected
  const many = Array.from({ length: MAX_SUBSCRIPTIONS + 1 }, (_, i) => `hooks/m${i}/#`)
  const subscriber = await rawClient(viewers, 'viewer-many', 'viewer')
  t.after(() => { subscriber.socket.destroy() })
  subscriber.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: many.map(topic => ({ topic, qos: 0 as const })) }))
  await subscriber.closed
  assert.ok(!subscriber.packets.some(p => p.cmd === 'suback'))
  assert.ok(gw.logs.some(l => new RegExp(`^denied subscribe a SUBSCRIBE .*client=viewer-many .*named ${MAX_SUBSCRIPTIONS + 1} filters`).test(l.text)))
  const unsubscriber = await rawClient(viewers, 'viewer-unsub', 'viewer')
  t.after(() => { unsubscriber.socket.destroy() })
  unsubscriber.socket.write(mqttPacket.generate({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: many.slice(0, MAX_SUBSCRIPTIONS) }))
  await waitFor('the UNSUBACK at the limit', () => unsubscriber.packets.some(p => p.cmd === 'unsuback'))
  assert.ok(!unsubscriber.socket.destroyed)
  unsubscriber.socket.write(mqttPacket.generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: many }))
  await unsubscriber.closed
  assert.ok(gw.logs.some(l => new RegExp(`^denied subscribe an UNSUBSCRIBE .*client=viewer-unsub .*named ${MAX_SUBSCRIPTIONS + 1} filters`).test(l.text)))
})

test('review 8: connections that write 64 KiB of small PUBLISHes to a throttled listener and close leave no timers behind, and their tokens go back to the bucket', async (t) => {
  const gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { rate: { messagesPerSecond: 100, burst: 10, action: 'throttle' } } }] },
  })
  t.after(() => gw.stop())
  const timers = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
  const before = timers()
  const publish = mqttPacket.generate({ cmd: 'publish', topic: 'h', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false })
  const flood = Buffer.concat(Array.from({ length: Math.floor(64 * 1024 / publish.length) }, () => publish))
  for (let i = 0; i < 10; i++) {
    const flooder = await rawClient(gw.url, `flooder-${i}`)
    flooder.socket.write(flood)
    await new Promise(resolve => setTimeout(resolve, 50))
    flooder.socket.destroy()
    await flooder.closed
  }
  // 10 × 13,000 messages waited (before: a timer each, for minutes, and as many tokens owed by the address)
  const left = await waitFor('the waiting to be dropped', () => { const n = timers(); return n <= before + 5 ? n : undefined })
  assert.ok(left <= before + 5, `${left} timers, ${before} before`)
  // the same address's next client is served at once: what never ran was given back
  const fresh = await rawClient(gw.url, 'fresh')
  t.after(() => { fresh.socket.destroy() })
  fresh.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hooks/x/#', qos: 0 }] }))
  await waitFor('the SUBACK', () => fresh.packets.some(p => p.cmd === 'suback'), 3000)
})

test('review 8: what Aedes sends a persistent session at its reconnection is not left counted against its backlog', async (t) => {
  const gw = await startTestGateway({ broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], drainTimeoutMs: 1000 }, operators: await operators() })
  t.after(() => gw.stop())
  const url = gw.gateway.broker.listeners[0]?.url ?? ''
  const persistent = await rawClient(url, 'admin-persistent', 'admin', false)
  persistent.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hooks/x/#', qos: 1 }] }))
  await waitFor('the SUBACK', () => persistent.packets.some(p => p.cmd === 'suback'))
  persistent.socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
  await persistent.closed
  // 60 × 64 KiB queued for it while it is away: ≈ 3.9 MiB, under the backlog, all sent at its reconnection
  const publisher = await connectOperator(url, { username: 'admin', password: PASSWORDS.admin })
  t.after(() => publisher.end())
  const payload = encodeCbor({ data: Buffer.alloc(64 * 1024, 1) })
  for (let i = 0; i < 60; i++) await publisher.client.publishAsync('hooks/x/queued', payload, { qos: 1 })
  const back = await rawClient(url, 'admin-persistent', 'admin', false)
  t.after(() => { back.socket.destroy() })
  await waitFor('the queued messages', () => back.packets.filter(p => p.cmd === 'publish').length >= 60, 10_000)
  for (const p of back.packets) if (p.cmd === 'publish' && p.messageId !== undefined) back.socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }))
  // it read everything: live messages reach it, and it stays connected past the drain timeout (before: the
  // 3.9 MiB stayed counted, the next messages were dropped and it was disconnected as not reading)
  // nothing it has read stays counted as on its way to it (direct.ts's count, read by its symbol's name;
  // before: 3,934,200 bytes for good)
  await new Promise(resolve => setTimeout(resolve, 200))
  const internals = (gw.gateway.broker.aedes as unknown as { clients: Record<string, object> }).clients['admin-persistent'] as Record<symbol, unknown>
  const queued = Object.getOwnPropertySymbols(internals).find(s => s.description === 'outpost.queuedBytes')
  assert.ok(queued !== undefined)
  assert.equal(internals[queued], 0)
  // 400 of 1 KiB, as it reads: none is dropped
  const live = back.packets.length
  const logged = gw.logs.length
  const small = encodeCbor({ data: Buffer.alloc(1024, 2) })
  for (let i = 0; i < 400; i++) await publisher.client.publishAsync('hooks/x/live', small, { qos: 0 })
  await waitFor('the live messages', () => back.packets.length - live >= 400, 10_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${back.packets.length - live} came; ${gw.logs.filter(l => /admin-persistent/.test(l.text)).map(l => l.text).join('; ')}`)
  })
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.ok(!back.socket.destroyed)
  const since = gw.logs.slice(logged).filter(l => /admin-persistent (is not reading|did not catch up)/.test(l.text))
  assert.deepEqual(since.map(l => l.text), [])
})

test('review 8: a caller closed while behind takes its owed notices with it: the next connection with its client id gets none', async (t) => {
  const gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], drainTimeoutMs: 20_000 },
    operators: await operators(),
    modules: [{ name: 'chatty', entry: fixture('biglog'), config: { count: 300, bytes: 8000 } }],
  })
  t.after(() => gw.stop())
  const url = gw.gateway.broker.listeners[0]?.url ?? ''
  const probe = await connectOperator(url, { username: 'admin', password: PASSWORDS.admin })
  t.after(() => probe.end())
  await poll(async () => ((await probe.call('core', 'logs', { module: 'chatty', lines: 1000 }, 10_000)).result as { lines: unknown[] }).lines.length >= 250 ? true : undefined, 100)
  const first = await rawClient(url, 'admin-slow', 'admin', false)
  t.after(() => { first.socket.destroy() })
  first.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'reply/admin-slow', qos: 0 }] }))
  await waitFor('the SUBACK', () => first.packets.some(p => p.cmd === 'suback'))
  first.socket.pause()
  first.socket.write(Buffer.concat(Array.from({ length: 40 }, (_, id) => mqttPacket.generate({
    cmd: 'publish', topic: 'rpc/core/logs', qos: 0, retain: false, dup: false,
    payload: encodeCbor({ id, reply: 'reply/admin-slow', timeout: 60_000, args: { module: 'chatty', lines: 1000 } }),
  }))))
  await waitFor('the drop to be logged', () => gw.logs.find(l => /admin-slow is not reading: dropping/.test(l.text)))
  // the same identity connects again with the same id (its session, and its subscription, taken over): Aedes
  // closes the first connection, which "drains" as it goes
  const second = await rawClient(url, 'admin-slow', 'admin', false)
  t.after(() => { second.socket.destroy() })
  // the first socket, not read, would never finish closing: the broker destroys it
  await waitFor('the first connection to be dropped', () => gw.logs.find(l => /admin-slow did not catch up: disconnected after \d+ dropped/.test(l.text)))
  await new Promise(resolve => setTimeout(resolve, 1000))
  const notices = second.packets.filter(p => p.cmd === 'publish' && /the reply to this call was dropped/.test(JSON.stringify(decodeCbor(p.payload as Buffer))))
  assert.equal(notices.length, 0, `${notices.length} notices of the first connection's calls reached the second`)
  assert.ok(!second.socket.destroyed)
})

test('review 8: on a rate-limited listener a SUBSCRIBE takes effect before a PUBLISH after it in the same read, throttled or not', async (t) => {
  const gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true, limits: { rate: { messagesPerSecond: 20, burst: 5, action: 'throttle' } } }] },
  })
  t.after(() => gw.stop())
  const self = await rawClient(gw.url, 'self-subscriber')
  t.after(() => { self.socket.destroy() })
  const publish = (i: number): Buffer => mqttPacket.generate({ cmd: 'publish', topic: `hooks/self/${i}`, payload: encodeCbor({ data: i }), qos: 0, retain: false, dup: false })
  // within the burst, then past it (the SUBSCRIBE's 2 filters and the publishes wait in one line, in order)
  self.socket.write(Buffer.concat([mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hooks/self/#', qos: 0 }, { topic: 'hooks/other/#', qos: 0 }] }), publish(0)]))
  await waitFor('its own first message', () => self.packets.some(p => p.cmd === 'publish' && p.topic === 'hooks/self/0'))
  self.socket.write(Buffer.concat([mqttPacket.generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'hooks/again/#', qos: 0 }] }), ...Array.from({ length: 8 }, (_, i) => publish(i + 1))]))
  const mine = await waitFor('all its messages', () => { const got = self.packets.filter(p => p.cmd === 'publish').map(p => p.topic); return got.length === 9 ? got : undefined }, 5000)
  assert.deepEqual(mine, Array.from({ length: 9 }, (_, i) => `hooks/self/${i}`))
  assert.deepEqual(self.packets.filter(p => p.cmd === 'suback').map(p => (p as { messageId: number }).messageId), [1, 2])
})
