// The management API end to end: a real gateway, real module processes, an operator calling `core` over
// MQTT, and the manifest on disk checked after every change.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { startTestGateway, connectOperator, fixture, waitFor, gone } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { DEFAULT_POLICY } from '../../core/supervisor/policy.js'
import { auditRecords, manifestOnDisk } from './helpers.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({
    modules: [
      { name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello' } },
      { name: 'beta', entry: fixture('echo'), after: ['alpha'] },
      { name: 'fragile', entry: fixture('echo'), restart: { intensity: { maxRestarts: 0 } } },
    ],
  })
  op = await connectOperator(gw.url)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

async function ok (method: string, args?: unknown): Promise<any> {
  const reply = await op.call('core', method, args, 20_000)
  assert.equal(reply.error, undefined, `core.${method}: ${JSON.stringify(reply.error)}`)
  return reply.result
}

async function fails (method: string, args: unknown, code: string): Promise<{ code: string, message: string, details?: any }> {
  const reply = await op.call('core', method, args, 20_000)
  assert.equal((reply.error as { code: string } | undefined)?.code, code, `core.${method}: ${JSON.stringify(reply)}`)
  return reply.error as { code: string, message: string }
}

const pidOf = (name: string): number | undefined => gw.gateway.modules.require(name).instances[0]?.process?.pid

test('list: every module with state, budget, memory, uptime, restarts, last exit', async () => {
  const list = await ok('list') as any[]
  assert.deepEqual(list.map(m => m.module), ['alpha', 'beta', 'fragile'])
  for (const m of list) {
    assert.equal(m.state, 'running')
    assert.equal(m.budgetMiB, 64)
    assert.ok(m.memoryBytes > 1024 * 1024, `${m.module} uses ${m.memoryBytes} bytes`)
    assert.ok(m.uptimeMs >= 0)
    assert.equal(m.restarts, 0)
    assert.equal(m.lastExit, null)
    assert.equal(m.instances[0].pid, pidOf(m.module))
  }
})

test('status: one module with its manifest entry, program and policy; unknown module is NO_SUCH_MODULE', async () => {
  const status = await ok('status', { module: 'alpha' })
  assert.deepEqual(status.spec, { name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello' } })
  assert.equal(status.program, fixture('echo'))
  assert.deepEqual(status.policy, DEFAULT_POLICY)
  assert.equal(status.calls, '*')
  const error = await fails('status', { module: 'nope' }, 'NO_SUCH_MODULE')
  assert.match(error.message, /no module named "nope"/)
  await fails('status', {}, 'BAD_ARGUMENTS')
})

test('info: gateway, board, versions, uptime, memory, listeners', async () => {
  const info = await ok('info')
  assert.equal(info.gateway, 'test')
  assert.equal(info.board.name, 'sim')
  assert.equal(info.versions.node, process.version)
  assert.match(info.versions.outpost, /^\d+\.\d+\.\d+/)
  assert.ok(info.uptimeMs >= 0 && info.memory.totalBytes > info.memory.availableBytes)
  assert.ok(info.listeners.some((l: any) => l.url === gw.url && l.anonymous === true))
  assert.deepEqual(info.modules, { total: 3, running: 3 })
})

test('stop, start, restart; a repeated start or stop is a CONFLICT', async () => {
  const pid = pidOf('alpha')
  assert.ok(pid !== undefined)
  const stopped = await ok('stop', { module: 'alpha' })
  assert.equal(stopped.state, 'stopped')
  assert.ok(gone(pid))
  await fails('stop', { module: 'alpha' }, 'CONFLICT')
  const started = await ok('start', { module: 'alpha' })
  assert.equal(started.state, 'running')
  await fails('start', { module: 'alpha' }, 'CONFLICT')
  const before = pidOf('alpha')
  const restarted = await ok('restart', { module: 'alpha' })
  assert.equal(restarted.state, 'running')
  assert.notEqual(restarted.instances[0].pid, before)
  assert.equal((await op.call('alpha', 'echo', 'still here')).result, 'still here')
})

test('reset: a failed module starts again; start on it is refused with a hint', async () => {
  const instance = gw.gateway.modules.require('fragile').instances[0]
  assert.ok(instance)
  await op.call('fragile', 'crash')
  await waitFor('fragile to fail', () => instance.state.status === 'failed')
  const listed = (await ok('list') as any[]).find(m => m.module === 'fragile')
  assert.equal(listed.state, 'failed')
  assert.match(listed.failure, /crash loop/)
  assert.equal(listed.lastExit.reason, 'crash-loop')
  const refused = await fails('start', { module: 'fragile' }, 'CONFLICT')
  assert.match(refused.message, /reset/)
  const reset = await ok('reset', { module: 'fragile' })
  assert.equal(reset.state, 'running')
  await fails('reset', { module: 'fragile' }, 'CONFLICT')
})

test('configure: the config is merged, written to disk, and applied by restarting that module alone', async () => {
  const alphaPid = pidOf('alpha')
  const betaPid = pidOf('beta')
  const result = await ok('configure', { module: 'alpha', config: { greeting: 'bonjour', extra: { n: 1 } } })
  assert.equal(result.state, 'running')
  assert.notEqual(pidOf('alpha'), alphaPid)
  assert.equal(pidOf('beta'), betaPid, 'beta was not restarted')
  assert.deepEqual((await op.call('alpha', 'config')).result, { greeting: 'bonjour', extra: { n: 1 } })
  const disk = await manifestOnDisk(gw.manifestFile)
  assert.deepEqual(disk.modules.map((m: any) => m.name), ['alpha', 'beta', 'fragile'])
  assert.deepEqual(disk.modules[0].config, { greeting: 'bonjour', extra: { n: 1 } })
  assert.deepEqual(disk.modules[2].restart, { intensity: { maxRestarts: 0 } })
  assert.equal(disk.gateway, 'test')

  await ok('configure', { module: 'alpha', config: { extra: null } })
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules[0].config, { greeting: 'bonjour' })
})

test('configure: budget, instances and restart policy', async () => {
  const result = await ok('configure', { module: 'beta', memoryMiB: 48, instances: 2, restart: { restart: 'always' } })
  assert.equal(result.instances.length, 2)
  assert.ok(result.instances.every((i: any) => i.state === 'running'))
  assert.equal(result.budgetMiB, 48)
  const disk = await manifestOnDisk(gw.manifestFile)
  assert.deepEqual(disk.modules[1], { name: 'beta', entry: fixture('echo'), after: ['alpha'], memoryMiB: 48, instances: 2, restart: { restart: 'always' } })
  const back = await ok('configure', { module: 'beta', memoryMiB: null, instances: 1, restart: null })
  assert.equal(back.instances.length, 1)
  assert.equal(back.budgetMiB, 64)
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules[1], { name: 'beta', entry: fixture('echo'), after: ['alpha'], instances: 1 })
})

test('an invalid change is refused with the manifest\'s own errors and changes nothing', async () => {
  const before = readFileSync(gw.manifestFile, 'utf8')
  const pid = pidOf('alpha')
  const error = await fails('configure', { module: 'alpha', memoryMiB: 8 }, 'MANIFEST_INVALID')
  assert.match(error.message, /modules\[0\] \(alpha\)\.memoryMiB: Too small/)
  assert.ok(Array.isArray(error.details.problems))
  const budget = await fails('configure', { module: 'alpha', instances: 16, memoryMiB: 4096 }, 'MANIFEST_INVALID')
  assert.match(budget.message, /memory budgets add up to/)
  await fails('configure', { module: 'alpha' }, 'BAD_ARGUMENTS')
  await fails('configure', { module: 'nope', instances: 1 }, 'NO_SUCH_MODULE')
  assert.equal(readFileSync(gw.manifestFile, 'utf8'), before)
  assert.equal(pidOf('alpha'), pid)
})

test('add and remove a module from an entry on the gateway', async () => {
  const added = await ok('add', { spec: { name: 'gamma', entry: fixture('echo'), config: { greeting: 'hi' } } })
  assert.equal(added.state, 'running')
  assert.equal(((await op.call('gamma', 'config')).result as { greeting: string }).greeting, 'hi')
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules.at(-1), { name: 'gamma', entry: fixture('echo'), config: { greeting: 'hi' } })
  await fails('add', { spec: { name: 'gamma', entry: fixture('echo') } }, 'CONFLICT')

  const before = readFileSync(gw.manifestFile, 'utf8')
  const missing = await fails('add', { spec: { name: 'delta', entry: './nowhere.js' } }, 'MANIFEST_INVALID')
  assert.match(missing.message, /modules\[4\] \(delta\)\.entry: .*does not exist/)
  assert.equal(readFileSync(gw.manifestFile, 'utf8'), before)
  assert.equal(gw.gateway.modules.get('delta'), undefined)
  // an optional field of the entry given as null is refused as the manifest would refuse it, not taken as absent
  const nulled = await fails('add', { spec: { name: 'delta', entry: fixture('echo'), memoryMiB: null, config: null } }, 'MANIFEST_INVALID')
  assert.match(nulled.message, /modules\[4\] \(delta\)\.memoryMiB: expected number, found null/)
  assert.match(nulled.message, /modules\[4\] \(delta\)\.config: expected record, found null/)
  assert.equal(readFileSync(gw.manifestFile, 'utf8'), before)
  assert.equal(gw.gateway.modules.get('delta'), undefined)

  const pid = pidOf('gamma')
  assert.deepEqual(await ok('remove', { module: 'gamma' }), { module: 'gamma', removed: true })
  assert.ok(pid !== undefined && gone(pid))
  assert.equal(gw.gateway.modules.get('gamma'), undefined)
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules.map((m: any) => m.name), ['alpha', 'beta', 'fragile'])

  // review: a command's arguments may be a secret: the audit record (viewers read it) keeps the program only
  await ok('add', { spec: { name: 'epsilon', command: [process.execPath, fixture('echo'), '--token', 'secret-3'] } })
  const record = await waitFor('the audit record of the add', () => auditRecords(gw.dir).find(r => r.op === 'add' && r.module === 'epsilon'))
  assert.deepEqual((record.change as { command?: unknown }).command, [process.execPath, null, null, null])
  assert.ok(!JSON.stringify(auditRecords(gw.dir)).includes('secret-3'))
  await ok('remove', { module: 'epsilon' })

  // beta starts after alpha: removing alpha would leave the manifest invalid
  const dependency = await fails('remove', { module: 'alpha' }, 'MANIFEST_INVALID')
  assert.match(dependency.message, /after\[0\]: no module named "alpha"/)
  assert.equal(gw.gateway.modules.require('alpha').instances[0]?.state.status, 'running')
})

test('logs: the tail, a cursor, and new lines as hooks', async () => {
  const tail = await ok('logs', { module: 'alpha', lines: 5 })
  assert.ok(tail.lines.length > 0 && tail.lines.length <= 5)
  assert.ok(tail.lines.some((l: any) => /echo ready/.test(l.text) && l.source === 'alpha'))
  assert.equal(tail.follow, 'hooks/core/log/alpha')
  assert.deepEqual((await ok('logs', { module: 'alpha', since: tail.next })).lines, [])

  const seen: any[] = []
  const onMessage = (topic: string, payload: Buffer): void => { if (topic === 'hooks/core/log/alpha') seen.push((decodeCbor(payload) as any).data) }
  op.client.on('message', onMessage)
  await op.client.subscribeAsync('hooks/core/log/alpha')
  await ok('restart', { module: 'alpha' })
  await waitFor('a followed log line', () => seen.find(l => /echo ready/.test(l.text)))
  op.client.off('message', onMessage)
  const after = await ok('logs', { module: 'alpha', since: tail.next })
  assert.ok(after.lines.some((l: any) => /echo ready/.test(l.text)))
  await fails('logs', { module: 'nope' }, 'NO_SUCH_MODULE')
})

test('the audit log records the authenticated caller, not the `from` the request claims', async () => {
  const reply = op.rawRequest('rpc/core/restart', { id: 'forged', reply: `reply/${op.clientId}`, args: { module: 'fragile' }, from: 'operator:admin:mallory:x' })
  assert.equal((await reply).result.state, 'running')
  const records = await waitFor('the audit record', () => {
    const found = auditRecords(gw.dir).filter(r => r.op === 'restart' && r.module === 'fragile')
    return found.length > 0 ? found : undefined
  })
  assert.deepEqual(records.at(-1)?.who, { kind: 'anonymous', role: 'admin', clientId: op.clientId })
  assert.equal(records.at(-1)?.result, 'ok')

  const all = auditRecords(gw.dir)
  const configure = all.find(r => r.op === 'configure' && r.module === 'alpha' && r.result === 'ok')
  assert.deepEqual(configure?.change, { config: ['greeting', 'extra'] }, 'config values stay out of the audit log')
  assert.ok(!JSON.stringify(all).includes('bonjour'))
  const refused = all.find(r => r.op === 'configure' && r.result === 'error')
  assert.equal(refused?.error?.code, 'MANIFEST_INVALID')
  assert.ok(all.every(r => typeof r.ts === 'number'))
})

test('a manifest edited by hand since the gateway loaded it is not overwritten', async () => {
  const original = readFileSync(gw.manifestFile, 'utf8')
  const edited = original.replace('"gateway": "test"', '"gateway": "test-edited"')
  writeFileSync(gw.manifestFile, edited)
  try {
    const error = await fails('configure', { module: 'alpha', config: { greeting: 'x' } }, 'CONFLICT')
    assert.match(error.message, /edited on disk/)
    assert.equal(readFileSync(gw.manifestFile, 'utf8'), edited)
  } finally {
    writeFileSync(gw.manifestFile, original)
  }
  await ok('configure', { module: 'alpha', config: { greeting: 'hello' } })
})
