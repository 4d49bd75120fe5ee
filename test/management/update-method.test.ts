// issue 12, core.update outside an installed gateway: its arguments are checked, a gateway that outpost-boot
// did not start says it cannot update itself, and the core does not restart or change (the whole update is
// in test/release/update.test.ts, on a real install).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }] })
  op = await connectOperator(gw.url)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

test('core.update: bad arguments are named; without outpost-boot, UPDATE_UNSUPPORTED and nothing restarts', async () => {
  const started = ((await op.call('core', 'info')).result as { startedAt: number, update: unknown })
  assert.equal(started.update, null, 'no install: info says so')
  const bad = await op.call('core', 'update', { url: 3, extra: true })
  assert.equal(bad.error?.code, 'BAD_ARGUMENTS')
  assert.match(bad.error?.message ?? '', /core\.update: url: expected a non-empty text, found .*; args: unknown key "extra"/)
  const refused = await op.call('core', 'update', { url: 'https://example.com/outpost-9.9.9-linux-x64.tar.gz' })
  assert.equal(refused.error?.code, 'UPDATE_UNSUPPORTED')
  assert.match(refused.error?.message ?? '', /not started by outpost-boot from an installed release/)
  const after = ((await op.call('core', 'info')).result as { startedAt: number })
  assert.equal(after.startedAt, started.startedAt)
})

test('core.update with module: the module is named as text; no update recorded yet, info says none', async () => {
  const bad = await op.call('core', 'update', { url: 'https://example.com/alpha-1.0.0.tar.gz', module: 3 })
  assert.equal(bad.error?.code, 'BAD_ARGUMENTS')
  assert.match(bad.error?.message ?? '', /core\.update: module: expected a non-empty text, found /)
  const info = (await op.call('core', 'info')).result as { moduleUpdates: unknown }
  assert.deepEqual(info.moduleUpdates, {})
})
