// The stored hooks' window (uplink.queue.window) against an upstream that acknowledges only when told: at the
// limit exactly `window` stored hooks are out unacknowledged and no more; each acknowledgement lets one more
// go; the queue's position moves only over the acknowledged front, whatever order the PUBACKs come in; after
// the connection drops, sending starts again at the first unacknowledged record. The upstream is a raw socket
// speaking MQTT 3.1.1 (mqtt-packet): no real broker can be told to hold back its PUBACKs.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { OutpostError } from '../../core/errors.js'
import { validateManifest } from '../../core/manifest/load.js'
import { connectOperator, fixture, poll, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'

const WINDOW = 5
const HOOKS = 'outpost/gw-w/hooks/alpha/ping'

interface Stored { seq: number, messageId: number, n: number }

/** An upstream broker that answers CONNECT, SUBSCRIBE and PINGREQ, acknowledges every QoS 1 publish but the stored hooks, and records those. */
async function holdingUpstream (): Promise<{ url: string, stored: Stored[], replies: unknown[], ack (messageId: number): void, request (envelope: unknown): void, drop (): void, close (): Promise<void> }> {
  const stored: Stored[] = []
  const replies: unknown[] = []
  let socket: net.Socket | undefined
  const send = (packet: Record<string, unknown>): void => { socket?.write(mqttPacket.generate(packet as unknown as Packet)) }
  const server = net.createServer(s => {
    socket?.destroy()
    socket = s
    s.on('error', () => {})
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') send({ cmd: 'connack', returnCode: 0, sessionPresent: false })
      else if (p.cmd === 'subscribe') send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => 0) })
      else if (p.cmd === 'pingreq') send({ cmd: 'pingresp' })
      else if (p.cmd === 'publish') onPublish(p)
    })
    s.on('data', chunk => parser.parse(chunk))
  })
  const onPublish = (p: IPublishPacket): void => {
    const payload = Buffer.from(p.payload)
    if (p.topic === HOOKS) {
      const m = decodeCbor(payload) as { seq: number, data: Uint8Array }
      stored.push({ seq: m.seq, messageId: p.messageId as number, n: Buffer.from(m.data).readUInt32BE(0) })
      return
    }
    if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId })
    if (p.topic.startsWith('outpost/gw-w/reply/')) replies.push(decodeCbor(payload))
  }
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  let nextId = 1
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stored,
    replies,
    ack: messageId => send({ cmd: 'puback', messageId }),
    // a fleet request: its reply is written after whatever the uplink sent before it, on the same connection
    request (args) {
      send({ cmd: 'publish', topic: 'outpost/gw-w/rpc/alpha/echo/alice', qos: 0, retain: false, dup: false, payload: encodeCbor({ id: nextId++, reply: 'outpost/gw-w/reply/alice/t1', timeout: 5000, args }) })
    },
    drop: () => socket?.destroy(),
    async close () {
      socket?.destroy()
      await new Promise(resolve => server.close(resolve))
    },
  }
}

let upstream: Awaited<ReturnType<typeof holdingUpstream>>
let gw: TestGateway
let local: Operator

before(async () => {
  upstream = await holdingUpstream()
  gw = await startTestGateway({
    gateway: 'gw-w',
    modules: [{ name: 'alpha', entry: fixture('echo') }],
    uplink: {
      url: upstream.url,
      keepaliveSeconds: 30,
      backoff: { initialMs: 100, maxMs: 1000 },
      hooks: [{ filter: 'alpha/ping', qos: 1, store: true }],
      operators: [{ user: 'alice', role: 'viewer' }],
      expose: [{ module: 'alpha', methods: ['echo'], role: 'viewer' }],
      queue: { window: WINDOW },
    },
  })
  local = await connectOperator(gw.url)
})

after(async () => {
  await local?.end()
  await gw?.stop()
  await upstream?.close()
})

interface UplinkStats { connected: boolean, queue: { records: number, acked: number, lastSeq: number } }
const stats = async (): Promise<UplinkStats | undefined> => (await local.call('uplink', 'stats')).result as UplinkStats | undefined
const queue = async (): Promise<UplinkStats['queue']> => (await stats() as UplinkStats).queue

/** everything the uplink sent before now has reached the upstream: a request's reply comes after it */
async function settled (): Promise<void> {
  const before = upstream.replies.length
  upstream.request('barrier')
  await waitFor('the reply to a fleet request', () => upstream.replies.length > before)
}

test('at most `window` stored hooks unacknowledged; the position moves only over the acknowledged front; a reconnect resends from it', async () => {
  await poll(async () => ((await stats())?.connected === true ? true : undefined), 100, 50)
  await local.call('alpha', 'burst', { hook: 'ping', count: 20, bytes: 8 })
  await waitFor(`${WINDOW} stored hooks upstream`, () => upstream.stored.length >= WINDOW)
  await settled()
  assert.equal(upstream.stored.length, WINDOW, 'no more than the window before any acknowledgement')
  assert.deepEqual(upstream.stored.map(s => s.n), [0, 1, 2, 3, 4])
  const first = upstream.stored[0]?.seq as number
  assert.deepEqual(upstream.stored.map(s => s.seq), [0, 1, 2, 3, 4].map(i => first + i), 'in order, numbered one by one')

  // acknowledged out of order: the second and third first, then the first; the position waits for the front
  upstream.ack(upstream.stored[1]?.messageId as number)
  upstream.ack(upstream.stored[2]?.messageId as number)
  await settled()
  assert.equal((await queue()).acked, first - 1, 'the front is not acknowledged yet')
  assert.equal(upstream.stored.length, WINDOW, 'acknowledged behind the front: still a full window out')
  upstream.ack(upstream.stored[0]?.messageId as number)
  await waitFor('three more sent', () => upstream.stored.length >= WINDOW + 3)
  await settled()
  assert.equal(upstream.stored.length, WINDOW + 3)
  assert.equal((await queue()).acked, first + 2)

  // the connection drops with five out: the new one starts again after the acknowledged position
  upstream.drop()
  await waitFor('the first unacknowledged sent again', () => upstream.stored.length > WINDOW + 3)
  await settled()
  const resent = upstream.stored.slice(WINDOW + 3)
  assert.deepEqual(resent.map(s => s.seq), [3, 4, 5, 6, 7].map(i => first + i), 'the same window again, from the first unacknowledged')

  // acknowledging as they come, the rest drains in order and the queue empties
  let acked = WINDOW + 3
  await poll(async () => {
    for (; acked < upstream.stored.length; acked++) upstream.ack(upstream.stored[acked]?.messageId as number)
    return (await queue()).records === 0 ? true : undefined
  }, 100, 50)
  const afterDrop = upstream.stored.slice(WINDOW + 3).map(s => s.n)
  assert.deepEqual(afterDrop, Array.from({ length: 17 }, (_, i) => i + 3))
})

test('the window is 1–1000 stored hooks, 64 by default; outside that the manifest is refused with the path', async () => {
  const manifest = (queue?: Record<string, unknown>): Record<string, unknown> => ({ gateway: 'g', board: 'sim', uplink: { url: 'mqtt://upstream.example', ...(queue === undefined ? {} : { queue }) } })
  const windowOf = async (queue?: Record<string, unknown>): Promise<unknown> =>
    ((await validateManifest(manifest(queue), '/etc/outpost/gateway.json')).modules.find(m => m.spec.name === 'uplink')?.spec.config as { queue: { window: number } }).queue.window
  assert.equal(await windowOf(), 64)
  assert.equal(await windowOf({ window: 1 }), 1)
  assert.equal(await windowOf({ window: 1000 }), 1000)
  for (const window of [0, 1001, 2.5]) {
    await assert.rejects(validateManifest(manifest({ window }), '/etc/outpost/gateway.json'),
      (err: unknown) => err instanceof OutpostError && err.code === 'MANIFEST_INVALID' && /uplink\.queue\.window/.test(err.message), `window ${window}`)
  }
})
