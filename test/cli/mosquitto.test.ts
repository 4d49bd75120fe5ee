// Managing a gateway with nothing but Debian's mosquitto-clients: JSON requests with mosquitto_pub, JSON
// replies read with mosquitto_sub, exactly as docs/management.md shows.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { startTestGateway, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { PASSWORDS, auditRecords, manifestOnDisk, operators } from '../management/helpers.js'

let gw: TestGateway
let anonymousPort: string
let passwordPort: string
let n = 0

before(async () => {
  gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true },
        { type: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    },
    operators: await operators(),
    modules: [
      { name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello' } },
      { name: 'fragile', entry: fixture('echo'), restart: { intensity: { maxRestarts: 0 } } },
    ],
  })
  anonymousPort = gw.gateway.broker.listeners[0]?.url.split(':').at(-1) ?? ''
  passwordPort = gw.gateway.broker.listeners[1]?.url.split(':').at(-1) ?? ''
})

after(async () => {
  await gw?.stop()
})

interface Options { user?: 'admin' | 'viewer', module?: string }

/**
 * mosquitto_sub -i <me> -t reply/<me> -C 1, then mosquitto_pub -t rpc/<module>/<method> -m '<json>'.
 * The subscriber's client id names the reply topic (a client may subscribe only to its own reply topic); the
 * publisher is another connection with its own id. Resolves to the JSON reply, as text and parsed.
 */
async function mosquitto (method: string, args?: unknown, options: Options = {}): Promise<{ text: string, reply: any, publisher: string }> {
  const id = ++n
  const me = `mosq-sub-${id}`
  const publisher = `mosq-pub-${id}`
  const auth = options.user === undefined ? ['-p', anonymousPort] : ['-p', passwordPort, '-u', options.user, '-P', PASSWORDS[options.user]]
  const subscribed = new Promise<void>(resolve => {
    const onSubscribe = (_subs: unknown, client: { id: string }): void => {
      if (client.id !== me) return
      gw.gateway.broker.aedes.off('subscribe', onSubscribe)
      resolve()
    }
    gw.gateway.broker.aedes.on('subscribe', onSubscribe)
  })
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', ...auth, '-i', me, '-t', `reply/${me}`, '-C', '1', '-W', '30'])
  let text = ''
  let errors = ''
  sub.stdout.on('data', chunk => { text += chunk })
  sub.stderr.on('data', chunk => { errors += chunk })
  // 'close', not 'exit': only then has all of its output been read
  const done = new Promise<number | null>(resolve => sub.once('close', code => resolve(code)))
  try {
    // a subscriber that cannot connect exits: fail at once rather than wait for the test timeout
    await Promise.race([subscribed, done.then(code => { throw new Error(`mosquitto_sub exited with ${code} before subscribing: ${errors}`) })])
    const request = JSON.stringify({ id, reply: `reply/${me}`, ...(args === undefined ? {} : { args }) })
    await new Promise<void>((resolve, reject) => {
      execFile('mosquitto_pub', ['-h', '127.0.0.1', ...auth, '-i', publisher, '-t', `rpc/${options.module ?? 'core'}/${method}`, '-m', request], { timeout: 20_000 }, err => (err === null ? resolve() : reject(err)))
    })
    assert.equal(await done, 0, `mosquitto_sub got no reply to ${method}`)
  } finally {
    sub.kill('SIGKILL')
  }
  const reply = JSON.parse(text)
  assert.equal(reply.id, id)
  return { text, reply, publisher }
}

async function ok (method: string, args?: unknown, options: Options = {}): Promise<any> {
  const { reply } = await mosquitto(method, args, options)
  assert.equal(reply.error, undefined, `${method}: ${JSON.stringify(reply.error)}`)
  return reply.result
}

test('list, status, info, logs answer JSON requests in JSON', async () => {
  const { text, reply } = await mosquitto('list')
  assert.match(text, /^\{"id":1,"result":\[\{"module":"alpha","state":"running",/)
  assert.deepEqual(reply.result.map((m: { module: string }) => m.module), ['alpha', 'fragile'])
  assert.equal((await ok('status', { module: 'alpha' })).spec.config.greeting, 'hello')
  assert.equal((await ok('info')).gateway, 'test')
  const logs = await ok('logs', { module: 'alpha', lines: 10 })
  assert.ok(logs.lines.some((l: { text: string }) => /echo ready/.test(l.text)))
  assert.equal(typeof logs.next, 'number')
})

test('stop, start, restart, reset', async () => {
  assert.equal((await ok('stop', { module: 'alpha' })).state, 'stopped')
  assert.equal((await ok('start', { module: 'alpha' })).state, 'running')
  assert.equal((await ok('restart', { module: 'alpha' })).state, 'running')
  // a module method takes JSON too
  assert.equal(await ok('crash', undefined, { module: 'fragile' }), 'crashing')
  await waitFor('fragile to fail', () => gw.gateway.modules.require('fragile').instances[0]?.state.status === 'failed')
  assert.equal((await ok('reset', { module: 'fragile' })).state, 'running')
})

test('configure, add, remove: validated and written to the manifest', async () => {
  const configured = await ok('configure', { module: 'alpha', config: { greeting: 'bonjour' }, memoryMiB: 48 })
  assert.equal(configured.budgetMiB, 48)
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules[0], { name: 'alpha', entry: fixture('echo'), config: { greeting: 'bonjour' }, memoryMiB: 48 })
  assert.equal((await ok('add', { spec: { name: 'gamma', entry: fixture('echo') } })).state, 'running')
  assert.equal((await manifestOnDisk(gw.manifestFile)).modules[2].name, 'gamma')
  assert.deepEqual(await ok('remove', { module: 'gamma' }), { module: 'gamma', removed: true })
  assert.equal((await manifestOnDisk(gw.manifestFile)).modules.length, 2)
})

test('errors come back as JSON with their codes', async () => {
  const missing = (await mosquitto('status', { module: 'nope' })).reply
  assert.equal(missing.error.code, 'NO_SUCH_MODULE')
  const invalid = (await mosquitto('configure', { module: 'alpha', instances: 99 })).reply
  assert.equal(invalid.error.code, 'MANIFEST_INVALID')
  assert.match(invalid.error.message, /modules\[0\] \(alpha\)\.instances/)
  assert.equal((await mosquitto('frobnicate')).reply.error.code, 'NO_SUCH_METHOD')
})

test('with -u/-P: a viewer reads, an admin changes, and the audit log names the publisher\'s connection', async () => {
  assert.equal((await ok('list', undefined, { user: 'viewer' })).length, 2)
  const { publisher } = await mosquitto('restart', { module: 'alpha' }, { user: 'admin' })
  const record = await waitFor('the audit record', () => auditRecords(gw.dir).find(r => r.op === 'restart' && r.who.kind === 'operator'))
  assert.deepEqual(record.who, { kind: 'operator', role: 'admin', user: 'admin', clientId: publisher })
})
