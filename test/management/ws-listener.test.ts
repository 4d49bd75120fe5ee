// Issue 13: MQTT over WebSocket. A ws listener authenticates, authorises and bounds its clients as a TCP
// listener does (the same handler: broker.ts `serve`), and bounds the HTTP upgrade before any MQTT byte.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { WebSocket } from 'ws'
import { startTestGateway, connectOperator, fixture } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { PASSWORDS, operators } from './helpers.js'

let gw: TestGateway
let open: string // default limits
let strict: string // 2 clients, 2 waiting per address, 2 KiB before the CONNACK, 8 KiB after, 5 messages then disconnect, one origin

before(async () => {
  gw = await startTestGateway({
    operators: await operators(),
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0 },
        { type: 'ws', port: 0 },
        {
          type: 'ws',
          port: 0,
          path: '/strict',
          origins: ['http://good.example'],
          limits: { maxClients: 2, maxPending: 4, maxPendingPerAddress: 2, maxConnectBytes: 2048, maxPacketBytes: 8192, rate: { messagesPerSecond: 1, burst: 5, action: 'disconnect' } },
        },
      ],
    },
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  open = gw.gateway.broker.listeners[1]?.url ?? ''
  strict = gw.gateway.broker.listeners[2]?.url ?? ''
})

after(async () => {
  await gw?.stop()
})

const connectPacket = (clientId: string, user = 'admin', password = PASSWORDS.admin, willBytes = 0): Buffer => mqttPacket.generate({
  cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId, username: user, password: Buffer.from(password),
  ...(willBytes > 0 ? { will: { topic: 'hooks/x/will', payload: Buffer.alloc(willBytes), qos: 0, retain: false } } : {}),
})

interface RawWs {
  ws: WebSocket
  /** resolves with the return code of the CONNACK, or 'closed' */
  connack (connect: Buffer): Promise<number | 'closed'>
  /** resolves when a packet of this kind arrives, or with 'closed' */
  next (cmd: string): Promise<mqttPacket.Packet | 'closed'>
  closed: Promise<number>
}

/** a WebSocket speaking raw MQTT bytes, from a chosen local address */
async function rawWs (url: string, options: { localAddress?: string, origin?: string, protocol?: string } = {}): Promise<RawWs> {
  const ws = new WebSocket(url, options.protocol ?? 'mqtt', { localAddress: options.localAddress ?? '127.0.0.1', ...(options.origin === undefined ? {} : { origin: options.origin }) })
  const closed = new Promise<number>(resolve => ws.once('close', code => resolve(code)))
  ws.on('error', () => {})
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: mqttPacket.Packet[] = []
  const waiters: Array<() => void> = []
  parser.on('packet', p => { packets.push(p); for (const w of waiters.splice(0)) w() })
  ws.on('message', data => parser.parse(data as Buffer))
  const next = (cmd: string): Promise<mqttPacket.Packet | 'closed'> => new Promise(resolve => {
    const look = (): void => {
      const i = packets.findIndex(p => p.cmd === cmd)
      if (i >= 0) return resolve(packets.splice(i, 1)[0] as mqttPacket.Packet)
      waiters.push(look)
    }
    look()
    void closed.then(() => resolve('closed'))
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('close', () => reject(new Error('closed before the handshake')))
  })
  return {
    ws,
    closed,
    next,
    async connack (connect) {
      ws.send(connect)
      const reply = await next('connack')
      return reply === 'closed' ? reply : (reply as mqttPacket.IConnackPacket).returnCode ?? -1
    },
  }
}

/** the HTTP status the listener answers a handshake with */
function handshake (url: string, headers: Record<string, string>): Promise<number> {
  const { hostname, port, pathname } = new URL(url.replace(/^ws/, 'http'))
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: pathname, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } })
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode ?? 0) })
    req.on('response', res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
}

test('issue 13: an admin over MQTT over WebSocket (mqtt.js) calls core and modules as over TCP, and learns its role from info', async () => {
  assert.match(open, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/)
  const admin = await connectOperator(open, { username: 'admin', password: PASSWORDS.admin })
  try {
    const info = await admin.call('core', 'info') as { result: { caller: unknown, listeners: Array<{ type: string, url: string }> } }
    assert.deepEqual(info.result.caller, { kind: 'operator', role: 'admin', user: 'admin', clientId: admin.clientId })
    assert.ok(info.result.listeners.some(l => l.type === 'ws' && l.url === open))
    assert.deepEqual((await admin.call('alpha', 'echo', { x: 1 })).result, { x: 1 })
  } finally {
    await admin.end()
  }
})

test('issue 13: a viewer over WebSocket gets what it gets over TCP: reads yes, a restart closes its connection, rpc/# is refused', async () => {
  const viewer = await connectOperator(open, { username: 'viewer', password: PASSWORDS.viewer })
  const info = await viewer.call('core', 'info') as { result: { caller: { role: string } } }
  assert.equal(info.result.caller.role, 'viewer')
  await assert.rejects(viewer.client.subscribeAsync('rpc/#'), (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] === 128, 'SUBACK 0x80 [MQTT-3.9.3-2]')
  const closed = new Promise<void>(resolve => viewer.client.once('close', () => resolve()))
  viewer.raw('rpc/core/restart', JSON.stringify({ id: 1, reply: `reply/${viewer.clientId}`, args: { module: 'alpha' } }))
  await closed
  assert.ok(gw.logs.some(l => /denied publish rpc\/core\/restart/.test(l.text) && /viewer/.test(l.text)))
  await viewer.end()
})

test('issue 13: without credentials, CONNACK 5 (ws listeners are never anonymous); a wrong password, CONNACK 4', async () => {
  await assert.rejects(mqtt.connectAsync(open, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 }), /Not authorized/i)
  await assert.rejects(mqtt.connectAsync(open, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, username: 'admin', password: 'wrong-password' }), /Bad username or password/i)
})

test('issue 13: the upgrade is refused without the "mqtt" subprotocol [MQTT-6.0.0-3], on another path, from an unlisted origin; plain HTTP gets 426', async () => {
  assert.equal(await handshake(open, {}), 400)
  assert.equal(await handshake(open, { 'Sec-WebSocket-Protocol': 'chat' }), 400)
  assert.equal(await handshake(open, { 'Sec-WebSocket-Protocol': 'chat, mqtt' }), 101)
  assert.equal(await handshake(open.replace(/\/mqtt$/, '/other'), { 'Sec-WebSocket-Protocol': 'mqtt' }), 404)
  assert.equal(await handshake(strict, { 'Sec-WebSocket-Protocol': 'mqtt', Origin: 'http://evil.example' }), 403)
  assert.equal(await handshake(strict, { 'Sec-WebSocket-Protocol': 'mqtt', Origin: 'http://good.example' }), 101)
  assert.ok(gw.logs.some(l => /a WebSocket upgrade from the origin http:\/\/evil\.example/.test(l.text)))
  const status = await new Promise<number>((resolve, reject) => http.get(open.replace(/^ws/, 'http'), res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject))
  assert.equal(status, 426)
  // the server picked "mqtt" among the offered subprotocols [MQTT-6.0.0-4]
  const ws = await rawWs(open, { protocol: 'mqtt' })
  assert.equal(ws.ws.protocol, 'mqtt')
  ws.ws.terminate()
})

test('issue 13: a text frame closes the connection [MQTT-6.0.0-1]', async () => {
  const c = await rawWs(open, { localAddress: '127.0.0.20' })
  assert.equal(await c.connack(connectPacket('text-frame')), 0)
  c.ws.send(mqttPacket.generate({ cmd: 'pingreq' }).toString('latin1'))
  await c.closed
})

test('issue 13: before the CONNACK a WebSocket message may be at most maxConnectBytes (at the limit it passes); after it, maxPacketBytes', async () => {
  let willBytes = 2048 - connectPacket('at-limit').length
  while (connectPacket('at-limit', 'admin', PASSWORDS.admin, willBytes).length > 2048) willBytes--
  const atLimitConnect = connectPacket('at-limit', 'admin', PASSWORDS.admin, willBytes)
  assert.equal(atLimitConnect.length, 2048)
  const atLimit = await rawWs(strict, { localAddress: '127.0.0.21' })
  assert.equal(await atLimit.connack(atLimitConnect), 0)
  // logged in: a publish of exactly maxPacketBytes passes, answered like any other packet
  let payload = 8192 - mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/big', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }).length
  while (mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/big', payload: Buffer.alloc(payload), qos: 0, retain: false, dup: false }).length > 8192) payload--
  const big = mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/big', payload: Buffer.alloc(payload), qos: 0, retain: false, dup: false })
  assert.equal(big.length, 8192)
  atLimit.ws.send(big)
  atLimit.ws.send(mqttPacket.generate({ cmd: 'pingreq' }))
  assert.notEqual(await atLimit.next('pingresp'), 'closed')
  // one byte more closes it (ws's message limit, 1009, or the reader's packet limit)
  atLimit.ws.send(Buffer.concat([big, Buffer.alloc(1)]))
  await atLimit.closed

  // one message of 2049 bytes: ws's message limit closes it (1009) before the reader sees it
  const over = await rawWs(strict, { localAddress: '127.0.0.22' })
  assert.equal(await over.connack(connectPacket('over-lmt', 'admin', PASSWORDS.admin, willBytes + 1)), 'closed')
  assert.equal(await over.closed, 1009)
  // the same CONNECT in two messages of 1 KiB: the reader's limit sees the whole packet
  const split = await rawWs(strict, { localAddress: '127.0.0.22' })
  const large = connectPacket('split-lm', 'admin', PASSWORDS.admin, willBytes + 1)
  split.ws.send(large.subarray(0, 1024))
  assert.equal(await split.connack(large.subarray(1024)), 'closed')
  assert.ok(gw.logs.some(l => /denied connect a packet of 2049 bytes/.test(l.text)))
})

test('issue 13 + issue 10 review: WebSocket connections not yet logged in hold pending slots of their address from their TCP connection on; a newcomer evicts the oldest', async () => {
  const idle = [await rawWs(strict, { localAddress: '127.0.0.23' }), await rawWs(strict, { localAddress: '127.0.0.23' })]
  // the address has its 2 slots: the third takes the oldest silent one's
  const third = await rawWs(strict, { localAddress: '127.0.0.23' })
  await idle[0]?.closed
  assert.ok(gw.logs.some(l => /127\.0\.0\.23/.test(l.text) && /closed to make room for a newer one/.test(l.text)))
  // the newcomer logs in on the slot it took
  assert.equal(await third.connack(connectPacket('pending-3')), 0)
  for (const c of [...idle, third]) c.ws.terminate()
})

test('issue 13: a TCP connection that does not finish its WebSocket upgrade is closed after the connect timeout (5 s)', async () => {
  const { hostname, port } = new URL(open.replace(/^ws/, 'http'))
  const socket = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.27' })
  socket.on('error', () => {})
  await new Promise(resolve => socket.once('connect', resolve))
  socket.write('GET /mqtt HTTP/1.1\r\nHost: x\r\n') // headers never finished
  await new Promise(resolve => socket.once('close', resolve))
})

test('issue 13: maxClients and the message rate hold on a ws listener', async () => {
  const a = await rawWs(strict, { localAddress: '127.0.0.24' })
  const b = await rawWs(strict, { localAddress: '127.0.0.24' })
  assert.equal(await a.connack(connectPacket('clients-a')), 0)
  assert.equal(await b.connack(connectPacket('clients-b')), 0)
  const c = await rawWs(strict, { localAddress: '127.0.0.24' })
  assert.equal(await c.connack(connectPacket('clients-c')), 3, 'CONNACK 3: the listener has its 2 clients')
  // 5 messages at once, then the sixth disconnects ("disconnect" action)
  for (let i = 0; i < 6; i++) a.ws.send(mqttPacket.generate({ cmd: 'publish', topic: 'hooks/x/rate', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }))
  await a.closed
  assert.ok(gw.logs.some(l => /over the listener's rate limit/.test(l.text) && /clients-a/.test(l.text)))
  b.ws.terminate()
  c.ws.terminate()
})

test('issue 13 + issue 10 review: failed logins over WebSocket are refused one by one and lock no one out, as over TCP', async () => {
  for (let i = 0; i < 5; i++) {
    const c = await rawWs(open, { localAddress: '127.0.0.25' })
    assert.equal(await c.connack(connectPacket(`guess-${i}`, 'admin', 'wrong-password')), 4)
    c.ws.terminate()
  }
  // the right password from the same address still gets in: failures slow checks, never block an address
  const right = await rawWs(open, { localAddress: '127.0.0.25' })
  assert.equal(await right.connack(connectPacket('guess-right')), 0)
  right.ws.terminate()
})

test('issue 13: the manifest refuses an anonymous ws listener, a cert without a key, an origin with a path', async () => {
  const { manifestSchema } = await import('../../core/manifest/schema.js')
  const problems = (listener: unknown): string[] => {
    const parsed = manifestSchema.safeParse({ gateway: 'g', broker: { listeners: [listener] } })
    return parsed.success ? [] : parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`)
  }
  assert.deepEqual(problems({ type: 'ws', port: 9001 }), [])
  assert.match(problems({ type: 'ws', port: 9001, anonymous: true }).join('\n'), /anonymous/)
  assert.match(problems({ type: 'ws', port: 9001, cert: 'c.pem' }).join('\n'), /broker\.listeners\.0\.cert: cert and key go together/)
  assert.match(problems({ type: 'ws', port: 9001, origins: ['https://a.example/page'] }).join('\n'), /origins\.0: an origin/)
  assert.match(problems({ type: 'ws', port: 9001, path: 'mqtt' }).join('\n'), /path: an HTTP path/)
})
