// Operators: passwords checked against salted scrypt hashes, roles enforced in the broker, refusals audited.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { hashPassword, verifyPassword } from '../../core/broker/credentials.js'
import { callerTag, parseCallerTag, stampCaller } from '../../core/broker/access.js'
import { readEnvelopeId } from '../../core/protocol/envelope-head.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { LOGIN_THROTTLE } from '../../core/broker/login-throttle.js'
import { PASSWORDS, auditRecords, operators } from './helpers.js'

let gw: TestGateway
let admin: Operator
let viewer: Operator

before(async () => {
  gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }] },
    operators: await operators(),
    modules: [
      { name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello', apiKey: 'secret-1' } },
      // a program given its secret as an argument
      { name: 'bridge', command: [process.execPath, fixture('echo'), '--api-key', 'secret-2'] },
    ],
  })
  admin = await connectOperator(gw.url, { username: 'admin', password: PASSWORDS.admin })
  viewer = await connectOperator(gw.url, { username: 'viewer', password: PASSWORDS.viewer })
})

after(async () => {
  await admin?.end()
  await viewer?.end()
  await gw?.stop()
})

/** the CONNACK return code a connection attempt gets (0: accepted) */
async function connackCode (options: mqtt.IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(gw.url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options }, false)
    await client.endAsync()
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}

let attempts = 0
/** The CONNACK code for a login from another loopback address, by hand: mqtt.js cannot pick its source address. */
async function connackFrom (localAddress: string, username: string, password: string): Promise<number> {
  const { hostname, port } = new URL(gw.url)
  const socket = net.connect({ host: hostname, port: Number(port), localAddress })
  try {
    return await new Promise<number>((resolve, reject) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', packet => { if (packet.cmd === 'connack') resolve(packet.returnCode ?? -1) })
      socket.on('data', chunk => parser.parse(chunk))
      socket.once('error', reject)
      socket.once('close', () => reject(new Error('closed without a CONNACK')))
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `guess-${localAddress}-${++attempts}`, clean: true, keepalive: 0, username, password: Buffer.from(password) }))
    })
  } finally {
    socket.destroy()
  }
}

/** a password guesser on one address: `workers` connections at a time, each CONNECT with a wrong password, for the users in turn, until stopped */
function hammer (localAddress: string, users: string[], workers: number): { stop: () => Promise<number[]> } {
  let running = true
  const codes: number[] = []
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const code = await connackFrom(localAddress, users[(w + i) % users.length] ?? 'admin', `wrong-${w}-${i}`).catch(() => -1)
      codes.push(code)
    }
  }
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)))
  return { stop: async () => { running = false; await done; return codes } }
}

test('issue 10 review: an operator with the right password logs in while an attacker on the same address hammers wrong passwords for that user and others', async () => {
  const attacker = hammer('127.0.0.2', ['admin', 'viewer', 'admin', 'nobody'], 4)
  // the attacker has had more than the failures a user is allowed before its checks are spaced
  await waitFor('admin past its failures', () => gw.logs.some(l => /10 failed logins as admin \(from any address/.test(l.text)), 30_000)
  assert.equal(await connackFrom('127.0.0.2', 'admin', PASSWORDS.admin), 0, 'the admin gets in from the attacker\'s own address')
  assert.equal(await connackFrom('127.0.0.2', 'viewer', PASSWORDS.viewer), 0, 'and so does the viewer')
  const codes = await attacker.stop()
  // every guess was checked and refused as a wrong password, or told to try again (CONNACK 3) past the
  // address's checks in flight; none was let in, none was locked out with CONNACK 5
  assert.ok(codes.every(c => c === 4 || c === 3), codes.join(' '))
  const info = (await admin.call('core', 'info')).result as { limits: { logins: { delayed: number, usersBackingOff: number } } }
  assert.ok(info.limits.logins.delayed > 0, 'checks past the address\'s rate waited their turn')
  assert.ok(info.limits.logins.usersBackingOff >= 1)
})

test('issue 10 A5: 40 CONNECTs at once from one address get no more password checks than 40 one after another, and lock nobody out', async () => {
  const before = gw.gateway.broker.limitCounts().logins
  const started = Date.now()
  const codes = await Promise.all(Array.from({ length: 40 }, (_, i) => connackFrom('127.0.0.4', 'guessed', `parallel-${i}`).catch(() => 'closed')))
  const checked = codes.filter(c => c === 4).length
  // at most 8 wait or run at once from one address: the others get CONNACK 3 (or are closed to make room
  // for a newer connection past 16 of one address waiting); and the checks run no faster than the address's
  // rate, as if sent one by one
  const after = gw.gateway.broker.limitCounts().logins
  // the address's burst at once, and one more per 1/checksPerSecond the burst took (however slow the machine)
  const unhindered = LOGIN_THROTTLE.burst + Math.ceil(((Date.now() - started) * LOGIN_THROTTLE.checksPerSecond) / 1000)
  assert.ok(checked >= 1, codes.join(' '))
  assert.ok(codes.every(c => c === 4 || c === 3 || c === 'closed'), codes.join(' '))
  assert.ok(after.busy - before.busy >= codes.filter(c => c === 3).length, 'every CONNACK 3 counted')
  assert.ok(checked <= unhindered, `${checked} checked, more than ${unhindered} one after another would have had`)
  assert.equal(await connackFrom('127.0.0.4', 'admin', PASSWORDS.admin), 0, 'the right password from that address still gets in')
})

test('password hashes: salted (two hashes of one password differ), verified, never the password', async () => {
  const a = await hashPassword('correct horse')
  const b = await hashPassword('correct horse')
  assert.notEqual(a, b)
  assert.match(a, /^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/)
  assert.ok(!a.includes('correct'))
  assert.equal(await verifyPassword('correct horse', a), true)
  assert.equal(await verifyPassword('correct horsE', a), false)
  assert.equal(await verifyPassword('x', 'scrypt$1$1$1$AA$AA'), false)
})

test('the broker\'s caller stamp: overwrites `from` in JSON and CBOR, keeps the rest, reads back exactly; the reply checked is the one the core reads (issue 10 review: a repeated key forged core replies); ids keep their CBOR type', () => {
  const operator = { kind: 'operator' as const, clientId: 'ops:laptop', user: 'ops', role: 'viewer' as const }
  assert.equal(callerTag(operator), 'operator:viewer:ops:ops:laptop')
  assert.deepEqual(parseCallerTag(callerTag(operator)), { kind: 'operator', role: 'viewer', user: 'ops', clientId: 'ops:laptop' })
  assert.deepEqual(parseCallerTag('module:heater.0'), { kind: 'module', clientId: 'heater.0' })
  assert.equal(parseCallerTag('ops'), null)
  assert.equal(parseCallerTag(undefined), null)
  const json = stampCaller(Buffer.from(' {"id":1,"reply":"reply/me","from":"admin"}'), operator)
  assert.deepEqual(JSON.parse(String(json?.payload)), { id: 1, reply: 'reply/me', from: 'operator:viewer:ops:ops:laptop' })
  const cbor = stampCaller(encodeCbor({ id: 2, reply: 'reply/me', args: { b: Buffer.from([1]) } }), operator)
  assert.deepEqual(decodeCbor(cbor?.payload ?? Buffer.alloc(0)), { id: 2, reply: 'reply/me', args: { b: Buffer.from([1]) }, from: 'operator:viewer:ops:ops:laptop' })
  // a repeated key: the reply the core will answer on is the last one, and that is the one the broker checks
  const repeated = Buffer.concat([Buffer.from([0xa3]), encodeCbor('id'), encodeCbor(3), encodeCbor('reply'), encodeCbor('reply/me'), encodeCbor('reply'), encodeCbor('reply/victim')])
  assert.equal(stampCaller(repeated, operator)?.reply, 'reply/victim')
  // ids keep their CBOR type through the stamp: 2^40 stays an integer, the float 1.0 stays no id
  const big = stampCaller(encodeCbor({ id: 2n ** 40n, reply: 'reply/me' }), operator)
  assert.equal(readEnvelopeId(big?.payload ?? Buffer.alloc(0), false), 2n ** 40n)
  const float = stampCaller(Buffer.concat([Buffer.from([0xa2]), encodeCbor('id'), Buffer.from([0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]), encodeCbor('reply'), encodeCbor('reply/me')]), operator)
  assert.equal((decodeCbor(float?.payload ?? Buffer.alloc(0)) as { id: unknown }).id, null)
  assert.equal(stampCaller(Buffer.from([0xff]), operator), undefined)
  assert.equal(stampCaller(encodeCbor([1, 2]), operator), undefined)
})

test('a wrong password, an unknown user and no credentials are refused', async () => {
  assert.equal(await connackCode({ username: 'admin', password: 'wrong' }), 4)
  assert.equal(await connackCode({ username: 'nobody', password: PASSWORDS.admin }), 4)
  assert.equal(await connackCode({ username: 'alpha.0', password: 'guess' }), 4)
  assert.equal(await connackCode({}), 5)
  assert.equal(await connackCode({ username: 'viewer', password: PASSWORDS.viewer }), 0)
  const refusals = gw.logs.filter(l => /denied connect/.test(l.text))
  assert.ok(refusals.some(l => /wrong user name or password for admin/.test(l.text)))
  assert.ok(refusals.some(l => /anonymous access is off/.test(l.text)))
})

test('a viewer reads state, logs and hooks, and a module\'s config keys but not their values', async () => {
  const list = await viewer.call('core', 'list')
  assert.equal((list.result as any[])[0].state, 'running')
  const status = await viewer.call('core', 'status', { module: 'alpha' })
  // issue 10 review: a config may hold secrets; a viewer sees its keys, an admin its values
  assert.deepEqual((status.result as any).spec.config, { greeting: null, apiKey: null })
  assert.deepEqual(((await admin.call('core', 'status', { module: 'alpha' })).result as any).spec.config, { greeting: 'hello', apiKey: 'secret-1' })
  // review: so may a command's arguments; a viewer sees the program, an admin the whole argv
  const bridge = (await viewer.call('core', 'status', { module: 'bridge' })).result as any
  assert.deepEqual(bridge.spec.command, [process.execPath, null, null, null])
  assert.deepEqual(bridge.program, [process.execPath, null, null, null])
  const asAdmin = (await admin.call('core', 'status', { module: 'bridge' })).result as any
  assert.deepEqual(asAdmin.spec.command, [process.execPath, fixture('echo'), '--api-key', 'secret-2'])
  assert.deepEqual(asAdmin.program.slice(-2), ['--api-key', 'secret-2'])
  assert.equal((await viewer.call('core', 'info')).error, undefined)
  assert.equal((await viewer.call('core', 'logs', { module: 'alpha' })).error, undefined)
  const granted = await viewer.client.subscribeAsync(['hooks/#', 'state/+'])
  assert.deepEqual(granted.map(g => g.qos), [0, 0])
})

test('a viewer cannot change anything: the broker drops the request and disconnects it; others carry on', async () => {
  const pid = gw.gateway.modules.require('alpha').instances[0]?.process?.pid
  const closed = new Promise<void>(resolve => viewer.client.once('close', () => resolve()))
  viewer.raw('rpc/core/stop', encodeCbor({ id: 1, reply: `reply/${viewer.clientId}`, args: { module: 'alpha' } }))
  await closed
  assert.ok(gw.logs.some(l => /denied publish rpc\/core\/stop/.test(l.text) && l.text.includes('operator viewer (viewer)')))
  assert.equal(gw.gateway.modules.require('alpha').instances[0]?.process?.pid, pid)
  assert.equal((await admin.call('alpha', 'echo', 'fine')).result, 'fine')
  const denied = await waitFor('the audit record of the refusal', () => auditRecords(gw.dir).find(r => r.result === 'denied'))
  assert.deepEqual(denied.who, { kind: 'operator', role: 'viewer', user: 'viewer', clientId: viewer.clientId })
  assert.equal(denied.op, 'stop')
  // a viewer may not subscribe to another caller's replies either
  viewer = await connectOperator(gw.url, { username: 'viewer', password: PASSWORDS.viewer })
  await assert.rejects(viewer.client.subscribeAsync(`reply/${admin.clientId}`), /Subscribe error/)
})

test('an admin changes the gateway, and the audit log names the operator', async () => {
  const stopped = await admin.call('core', 'stop', { module: 'alpha' }, 15_000)
  assert.equal((stopped.result as { state: string }).state, 'stopped')
  assert.equal(((await admin.call('core', 'start', { module: 'alpha' }, 15_000)).result as { state: string }).state, 'running')
  const records = await waitFor('both records on disk', () => {
    const ok = auditRecords(gw.dir).filter(r => r.result === 'ok')
    return ok.length === 2 ? ok : undefined
  })
  assert.deepEqual(records.map(r => r.op), ['stop', 'start'])
  assert.deepEqual(records[0]?.who, { kind: 'operator', role: 'admin', user: 'admin', clientId: admin.clientId })
})

test('review: onBehalf from a client that is not the uplink: a clear NOT_AUTHORISED, and the audit names the real sender', async () => {
  const reply = await admin.rawRequest('rpc/core/stop', { id: 'behalf-1', reply: `reply/${admin.clientId}`, args: { module: 'alpha' }, onBehalf: 'admin:mallory' })
  assert.equal(reply.error?.code, 'NOT_AUTHORISED')
  assert.equal(reply.error?.message, `core.stop: onBehalf is honoured only from the uplink module (uplink.<n>), as "<role>:<user>"; operator admin (${admin.clientId}) sent it`)
  assert.equal(gw.gateway.modules.require('alpha').instances[0]?.state.status, 'running', 'nothing was stopped')
  const record = await waitFor('its audit record', () => auditRecords(gw.dir).find(r => r.op === 'stop' && r.result === 'error' && r.error?.code === 'NOT_AUTHORISED'))
  assert.deepEqual(record.who, { kind: 'operator', role: 'admin', user: 'admin', clientId: admin.clientId })
})
