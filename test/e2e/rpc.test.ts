// RPC end to end: real gateway, real module processes, a real MQTT client as the caller.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor, gone } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({
    modules: [
      { name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello' } },
      { name: 'beta', entry: fixture('echo'), after: ['alpha'] },
    ],
  })
  op = await connectOperator(gw.url)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

test('modules start and report running', () => {
  for (const name of ['alpha', 'beta']) {
    assert.equal(gw.gateway.modules.require(name).instances[0]?.state.status, 'running')
  }
})

test('a call returns the handler result with CBOR values intact', async () => {
  const args = { n: 42, f: 1.5, s: 'héllo', list: [1, 'two', null], bytes: Buffer.from([0, 1, 254]), yes: true }
  const reply = await op.call('alpha', 'echo', args)
  assert.deepEqual(reply.result, args)
})

test('the module receives its config', async () => {
  const reply = await op.call('alpha', 'config')
  assert.deepEqual(reply.result, { greeting: 'hello' })
})

test('each error code comes back as documented', async () => {
  const noMethod = await op.call('alpha', 'nope')
  assert.equal(noMethod.error?.code, 'NO_SUCH_METHOD')
  assert.match(noMethod.error?.message ?? '', /^alpha\.nope: no such method \(alpha has: /)
  const failed = await op.call('alpha', 'fail')
  assert.deepEqual(failed.error, { code: 'HANDLER_FAILED', message: 'handler exploded' })
  const badArgs = await op.call('alpha', 'reject')
  assert.deepEqual(badArgs.error, { code: 'BAD_ARGUMENTS', message: 'expected a positive number' })
})

test('module to module: a call through the SDK, and its timeout', async () => {
  const ok = await op.call('beta', 'callOther', { module: 'alpha', method: 'echo', args: [7] })
  assert.deepEqual(ok.result, [7])
  const remoteError = await op.call('beta', 'callOther', { module: 'alpha', method: 'fail', args: null })
  assert.equal(remoteError.error?.code, 'HANDLER_FAILED')
  assert.match(remoteError.error?.message ?? '', /alpha\.fail: handler exploded/)
  const timeout = await op.call('beta', 'callOther', { module: 'alpha', method: 'slow', args: 2000, timeout: 100 })
  assert.equal(timeout.error?.code, 'TIMEOUT')
  assert.match(timeout.error?.message ?? '', /alpha\.slow: no reply within 100 ms/)
})

test('a malformed request with a reply topic gets BAD_REQUEST; without one, the broker refuses it and logs why; the module keeps serving', async () => {
  const reply = await op.rawRequest('rpc/alpha/echo', { id: 'bad-1', reply: `reply/${op.clientId}`, timeout: -5 })
  assert.equal(reply.error.code, 'BAD_REQUEST')
  assert.match(reply.error.message, /timeout/)

  // no reply topic the broker can read: a module's decoder might read one it did not check (review 6)
  const sender = await connectOperator(gw.url)
  const closed = new Promise<void>(resolve => sender.client.once('close', () => resolve()))
  sender.raw('rpc/alpha/echo', Buffer.from([0xff, 0x00, 0x13]))
  await closed
  await sender.end()
  await waitFor('the refusal logged', () => gw.logs.find(l => /denied publish rpc\/alpha\/echo/.test(l.text) && /no reply topic the broker can read/.test(l.text)))
  const still = await op.call('alpha', 'echo', 'alive')
  assert.equal(still.result, 'alive')
})

test('a crashing module is restarted while its neighbour keeps answering', async () => {
  const alpha = gw.gateway.modules.require('alpha').instances[0]
  assert.ok(alpha)
  const before = (await op.call('alpha', 'whoami')).result as { pid: number }
  await op.call('alpha', 'crash')
  await waitFor('alpha to be restarted', () => alpha.state.status === 'running' && alpha.process?.pid !== before.pid && alpha.process !== undefined)
  for (let i = 0; i < 20; i++) assert.equal((await op.call('beta', 'echo', i)).result, i)
  const after = (await op.call('alpha', 'whoami')).result as { pid: number }
  assert.notEqual(after.pid, before.pid)
  assert.ok(gone(before.pid))
  assert.equal(alpha.state.restarts, 1)
  assert.equal(alpha.state.exits.at(-1)?.code, 1)
})
