// issue 10 A10: a module's config travels in a 0600 file in the runtime folder (OUTPOST_CONFIG_FILE), never in
// the environment, and is at most MAX_CONFIG_BYTES as JSON: a larger one is refused when it is added, naming
// the module and the limit. A spawn the kernel refuses (E2BIG) ends as an exit, not an instance in `starting`.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { MAX_CONFIG_BYTES } from '../../core/manifest/schema.js'
import { startTestGateway, connectOperator, fixture, poll } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { manifestOnDisk } from './helpers.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({})
  op = await connectOperator(gw.url)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

/** a config whose JSON is exactly `bytes` long */
function configOf (bytes: number): { blob: string } {
  return { blob: 'x'.repeat(bytes - JSON.stringify({ blob: '' }).length) }
}

test('issue 10 A10: a config of 140 KB is refused at add, naming the module and the limit; nothing is saved', async () => {
  const before = await manifestOnDisk(gw.manifestFile)
  const reply = await op.call('core', 'add', { spec: { name: 'big', entry: fixture('echo'), config: configOf(140_000) } })
  assert.equal(reply.error?.code, 'MANIFEST_INVALID')
  assert.match(reply.error?.message ?? '', /modules\[0\] \(big\)\.config: the config is 140000 bytes as JSON, over the limit of 65536 bytes \(64 KiB\)/)
  assert.deepEqual(await manifestOnDisk(gw.manifestFile), before)
  assert.deepEqual((await op.call('core', 'list')).result, [])
})

test('issue 10 A10: a config of exactly the limit reaches the module whole, by a 0600 file, not by the environment', async () => {
  const config = configOf(MAX_CONFIG_BYTES)
  assert.equal(JSON.stringify(config).length, MAX_CONFIG_BYTES)
  const added = await op.call('core', 'add', { spec: { name: 'atlimit', entry: fixture('echo'), config } })
  assert.equal(added.error, undefined)
  assert.deepEqual((await op.call('atlimit', 'config')).result, config)
  const pid = ((await op.call('atlimit', 'whoami')).result as { pid: number }).pid
  const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  assert.ok(!environ.some(v => v.startsWith('OUTPOST_CONFIG=')))
  const file = environ.find(v => v.startsWith('OUTPOST_CONFIG_FILE='))?.slice('OUTPOST_CONFIG_FILE='.length) ?? ''
  assert.equal(file, path.join(gw.gateway.runtimeDir, 'atlimit.config.json'))
  assert.equal(fs.statSync(file).mode & 0o777, 0o600)

  const over = await op.call('core', 'configure', { module: 'atlimit', config: configOf(MAX_CONFIG_BYTES + 1) })
  assert.equal(over.error?.code, 'MANIFEST_INVALID')
  assert.match(over.error?.message ?? '', /\(atlimit\)\.config: the config is 65537 bytes as JSON, over the limit of 65536 bytes/)
})

test('issue 10 A10: a spawn the kernel refuses (E2BIG: a 200 KB argument) is an exit with code 127 and a log line, then failed; management carries on', async () => {
  const added = await op.call('core', 'add', {
    spec: { name: 'toolong', command: [process.execPath, '-e', '0', 'x'.repeat(200_000)], restart: { backoff: { initialMs: 10 }, intensity: { maxRestarts: 1, windowMs: 60_000 } } },
  }, 20_000)
  assert.equal(added.error, undefined)
  const status = await poll(async () => {
    const s = (await op.call('core', 'status', { module: 'toolong' })).result as { state: string, lastExit: { code: number } }
    return s.state === 'failed' ? s : undefined
  })
  assert.equal(status.lastExit.code, 127)
  assert.ok(gw.logs.some(l => l.source === 'toolong' && l.level === 'error' && /^cannot start .*: spawn E2BIG$/.test(l.text)), JSON.stringify(gw.logs.filter(l => l.source === 'toolong').map(l => l.text.slice(0, 200))))
  assert.equal((await op.call('core', 'list')).error, undefined)
})
