// Issue 10 class "limits on a state before login", for the TLS listeners: a TLS connection (mqtts, and wss
// for MQTT over WebSocket) holds a pending slot of its address from its TCP connection on, so handshakes that
// never finish are evicted like any silent socket, and an operator from the same address still logs in. Those
// left are closed at the handshake timeout (5 s; Node's own only reports it), or at once when the gateway stops.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import mqttPacket from 'mqtt-packet'
import { WebSocket } from 'ws'
import { makeCertificates } from '../helpers/certs.js'
import { startTestGateway, fixture } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { PASSWORDS, operators } from './helpers.js'

/** stalled handshakes each test opens from one address, against maxPendingPerAddress 2 */
const STALLED = 10
const PER_ADDRESS = 2

let gw: TestGateway
let certs: string
let ca: Buffer

before(async () => {
  certs = mkdtempSync(path.join(os.tmpdir(), 'outpost-certs-'))
  makeCertificates(certs)
  ca = readFileSync(path.join(certs, 'ca.crt'))
  const pem = { cert: path.join(certs, 'server.crt'), key: path.join(certs, 'server.key') }
  const limits = { maxPending: 8, maxPendingPerAddress: PER_ADDRESS }
  gw = await startTestGateway({
    operators: await operators(),
    broker: { listeners: [{ type: 'tls', host: '127.0.0.1', port: 0, ...pem, limits }, { type: 'ws', host: '127.0.0.1', port: 0, ...pem, limits }] },
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
})

after(async () => {
  await gw?.stop() // again after the last test: stop is idempotent
  if (certs !== undefined) rmSync(certs, { recursive: true, force: true })
})

const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'tls-op', username: 'admin', password: Buffer.from(PASSWORDS.admin) })

/** TCP connections from `address` that send three bytes of a TLS ClientHello and nothing more; each resolves `closed` when the core closes it */
async function stalled (port: number, address: string): Promise<Array<Promise<void>>> {
  const closed: Array<Promise<void>> = []
  for (let i = 0; i < STALLED; i++) {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: address })
    socket.on('error', () => {})
    closed.push(new Promise(resolve => socket.once('close', () => resolve())))
    await new Promise(resolve => socket.once('connect', resolve))
    socket.write(Buffer.from([0x16, 0x03, 0x01]))
  }
  return closed
}

/** resolves when `count` of `closed` have, or after `ms` with how many had */
async function closedWithin (closed: Array<Promise<void>>, count: number, ms: number): Promise<number> {
  let n = 0
  const all = Promise.all(closed.map(c => c.then(() => { n++ })))
  const deadline = new Promise(resolve => setTimeout(resolve, ms))
  while (n < count) {
    const tick = await Promise.race([all.then(() => 'all'), deadline.then(() => 'late'), new Promise(resolve => setTimeout(() => resolve('tick'), 20))])
    if (tick !== 'tick') break
  }
  return n
}

/** the CONNACK return code an admin gets over raw TLS from `address` */
async function loginOverTls (port: number, address: string): Promise<number | 'closed'> {
  const socket = tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress: address }), ca, servername: '127.0.0.1' })
  socket.on('error', () => {})
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const code = new Promise<number | 'closed'>(resolve => {
    parser.on('packet', p => { if (p.cmd === 'connack') resolve(p.returnCode ?? -1) })
    socket.once('close', () => resolve('closed'))
  })
  socket.on('data', data => parser.parse(data))
  socket.once('secureConnect', () => socket.write(connect))
  const result = await code
  socket.destroy()
  return result
}

/** the CONNACK return code an admin gets over wss from `address` */
async function loginOverWss (url: string, address: string): Promise<number | 'closed'> {
  const ws = new WebSocket(url, 'mqtt', { localAddress: address, ca })
  ws.on('error', () => {})
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const code = new Promise<number | 'closed'>(resolve => {
    parser.on('packet', p => { if (p.cmd === 'connack') resolve(p.returnCode ?? -1) })
    ws.once('close', () => resolve('closed'))
  })
  ws.on('message', data => parser.parse(data as Buffer))
  ws.once('open', () => ws.send(connect))
  const result = await code
  ws.terminate()
  return result
}

for (const [index, kind] of [[0, 'tls'], [1, 'wss']] as const) {
  test(`issue 10 review: ${kind}: handshakes that never finish hold pending slots of their address and are evicted by newcomers; an operator from that address logs in`, async () => {
    const listener = gw.gateway.broker.listeners[index]
    const port = Number(new URL(listener?.url ?? '').port)
    const address = kind === 'tls' ? '127.0.0.41' : '127.0.0.42'
    const evictedBefore = gw.gateway.broker.limitCounts().listeners[index]?.pendingEvicted ?? 0
    const closed = await stalled(port, address)
    // the address keeps its last two: every older one was closed to make room (long before the 5 s handshake timeout)
    assert.equal(await closedWithin(closed, STALLED - PER_ADDRESS, 4000), STALLED - PER_ADDRESS, 'the oldest stalled handshakes were evicted')
    assert.ok((gw.gateway.broker.limitCounts().listeners[index]?.pendingEvicted ?? 0) >= evictedBefore + STALLED - PER_ADDRESS, 'counted as pendingEvicted')
    const code = kind === 'tls' ? await loginOverTls(port, address) : await loginOverWss(listener?.url ?? '', address)
    assert.equal(code, 0, 'an operator from the same address logs in, evicting a stalled handshake')
    assert.equal(await closedWithin(closed, STALLED, 10_000), STALLED, 'the stalled handshakes left are closed at the handshake timeout')
  })
}

test('issue 10 review: tls: a handshake trickled in a byte a second is closed 5 s after its TCP connection, however alive it looks', async () => {
  const port = Number(new URL(gw.gateway.broker.listeners[0]?.url ?? '').port)
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.45' })
  socket.on('error', () => {})
  const closed = new Promise<number>(resolve => socket.once('close', () => resolve(Date.now())))
  await new Promise(resolve => socket.once('connect', resolve))
  const opened = Date.now()
  // a handshake record announcing 512 bytes, then its body a byte at a time
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write(Buffer.from([0x01])) }, 1000)
  try {
    const at = await Promise.race([closed, new Promise<number>(resolve => setTimeout(() => resolve(0), 9000))])
    assert.ok(at > 0, 'closed while its bytes still came')
    assert.ok(at - opened >= 4000, `closed after ${at - opened} ms: by the 5 s deadline, not for something else`)
  } finally {
    clearInterval(trickle)
    socket.destroy()
  }
})

test('issue 10 review: stopping the gateway closes the handshakes under way on both listeners, long before their timeout', async () => {
  const opened = Date.now()
  const closed: Array<Promise<void>> = []
  for (const [index, address] of [[0, '127.0.0.43'], [1, '127.0.0.44']] as const) {
    closed.push(...await stalled(Number(new URL(gw.gateway.broker.listeners[index]?.url ?? '').port), address))
  }
  const open = STALLED * 2 - await closedWithin(closed, STALLED * 2, 200)
  assert.equal(open, PER_ADDRESS * 2, 'each address holds its last two')
  await gw.stop()
  assert.equal(await closedWithin(closed, STALLED * 2, 1000), STALLED * 2, 'every stalled handshake closed')
  // the handshake timeout, 5 s after they were opened, would close them too: the stop must have been first
  const after = Date.now() - opened
  assert.ok(after < 4000, `closed ${after} ms after they were opened: by their handshake timeout, not by the stop`)
})
