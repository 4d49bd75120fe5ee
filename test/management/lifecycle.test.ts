// Management operations against modules that do not cooperate (issue 10 F4, F5, A10, B5, D1): one module
// that never becomes ready holds only its own queue; a stop preempts its pending start; every operation has
// a deadline; a stopping gateway refuses and cancels work and starts nothing; memory is reported only once
// a module's program runs.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'

// a process that never says ready (and is killed by SIGTERM, as a sleeping Python script is)
const NEVER_READY = { command: ['python3', '-c', 'import time; time.sleep(600)'], enabled: false, restart: { readyTimeoutMs: 60_000 } }

async function setUp (t: TestContext, modules: unknown[]): Promise<{ gw: TestGateway, op: Operator }> {
  const gw = await startTestGateway({ modules })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  return { gw, op }
}

let nextId = 1
/** resolves once the module's first instance is starting (its start is in progress) */
const starting = (gw: TestGateway, module: string): Promise<unknown> =>
  waitFor(`${module} to be starting`, () => gw.gateway.modules.require(module).instances[0]?.state.status === 'starting')

/** a request with an explicit `timeout`, as the CLI sends */
function request (op: Operator, method: string, args: unknown, timeout = 30_000): Promise<{ result?: any, error?: { code: string, message: string } }> {
  return op.rawRequest(`rpc/core/${method}`, { id: 1_000_000 + nextId++, reply: `reply/${op.clientId}`, args, timeout })
}

test('issue 10 F5: a start waiting on a module that never becomes ready holds only that module: others are managed at once; a stop preempts it', { timeout: 60_000 }, async (t) => {
  const { gw, op } = await setUp(t, [{ name: 'stuck', ...NEVER_READY }, { name: 'alpha', entry: fixture('echo') }])
  const start = request(op, 'start', { module: 'stuck' })
  await starting(gw, 'stuck')
  const queued = request(op, 'configure', { module: 'stuck', config: { x: 1 } })

  // another module's management does not wait on stuck's start
  const restarted = await request(op, 'restart', { module: 'alpha' })
  assert.equal(restarted.result?.state, 'running', JSON.stringify(restarted))

  // the operator's stop does not wait behind the start either: it supersedes what is queued and ends the wait
  const stopped = await request(op, 'stop', { module: 'stuck' })
  assert.equal(stopped.result?.state, 'stopped', JSON.stringify(stopped))
  assert.equal((await start).result?.state, 'stopped', 'the pending start ended when its module stopped')
  assert.deepEqual((await queued).error, { code: 'CONFLICT', message: 'superseded by a stop of stuck' })
  assert.equal(gw.gateway.modules.require('stuck').instances[0]?.state.status, 'stopped')
})

test('issue 10 A10: an operation answers TIMEOUT, naming what it waits for, before its caller gives up; a queued one is not run later', { timeout: 60_000 }, async (t) => {
  const { gw, op } = await setUp(t, [{ name: 'stuck', ...NEVER_READY }])
  const start = request(op, 'start', { module: 'stuck' }, 1000)
  const queued = request(op, 'restart', { module: 'stuck' }, 500)
  const late = await queued
  assert.equal(late.error?.code, 'TIMEOUT', JSON.stringify(late))
  assert.match(late.error?.message ?? '', /^core\.restart of stuck: no result within 450 ms: queued behind core\.start of stuck; not run$/)
  const reply = await start
  assert.equal(reply.error?.code, 'TIMEOUT', JSON.stringify(reply))
  assert.match(reply.error?.message ?? '', /^core\.start of stuck: no result within 900 ms: waiting for stuck\.0 \(starting\) to settle; it goes on$/)
  const spawned = gw.logs.filter(l => l.text.startsWith('started stuck.0')).length
  await request(op, 'stop', { module: 'stuck' })
  assert.equal(gw.logs.filter(l => l.text.startsWith('started stuck.0')).length, spawned, 'the restart that timed out in the queue never ran')
})

test('issue 10 B5/F4: shutdown cancels queued work, refuses new work ("gateway stopping"), and nothing starts after "gateway stopped"', { timeout: 60_000 }, async (t) => {
  const gw = await startTestGateway({
    modules: [
      { name: 'stuck', ...NEVER_READY },
      // ignores SIGTERM once it says so, so the gateway's stop lasts its stop timeout (5 s: well past the restart
      // sent at 0.8 s); a SIGTERM before its trap is set would end it at once and the gateway with it
      { name: 'stubborn', command: ['/bin/sh', '-c', 'trap "" TERM; echo ignoring TERM; while :; do sleep 0.1; done'], restart: { readyTimeoutMs: 60_000, stopTimeoutMs: 5000 }, enabled: false },
    ],
  })
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const start = request(op, 'start', { module: 'stuck' })
  void request(op, 'start', { module: 'stubborn' })
  await starting(gw, 'stuck')
  await starting(gw, 'stubborn')
  await waitFor('stubborn to ignore SIGTERM', () => gw.logs.some(l => l.source === 'stubborn' && l.text === 'ignoring TERM'))
  const queued = request(op, 'restart', { module: 'stuck' })
  const stopping = gw.stop()
  // a restart 0.8 s after the stop began
  await new Promise(resolve => setTimeout(resolve, 800))
  const refused = await request(op, 'restart', { module: 'stuck' })
  assert.deepEqual(refused.error, { code: 'UNAVAILABLE', message: 'gateway stopping' })
  assert.deepEqual((await queued).error, { code: 'UNAVAILABLE', message: 'gateway stopping' }, 'queued, or arrived once stopping: refused either way')
  await stopping
  const stoppedAt = gw.logs.findIndex(l => l.text === 'gateway stopped')
  assert.ok(stoppedAt > 0)
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.deepEqual(gw.logs.slice(stoppedAt + 1).filter(l => l.text.startsWith('started ')), [], 'nothing spawned after "gateway stopped"')
  const answered = await start
  assert.equal(answered.result?.state, 'stopped', `the start in progress was answered once its module stopped: ${JSON.stringify(answered)}`)
})

test('issue 10 D1: memory is reported only once the module\'s program runs (ready), and then it is the program\'s', { timeout: 60_000 }, async (t) => {
  const { gw, op } = await setUp(t, [{ name: 'stuck', ...NEVER_READY }, { name: 'alpha', entry: fixture('echo') }])
  void request(op, 'start', { module: 'stuck' })
  const listed = async (): Promise<any[]> => (await request(op, 'list', null)).result
  await starting(gw, 'stuck')
  const stuck = (await listed()).find(m => m.module === 'stuck')
  assert.equal(stuck.state, 'starting')
  assert.equal(stuck.instances[0].memoryBytes, null, 'a starting instance may still be its `sh`/`setpriv` prefix: no figure')
  // restarted: measured the moment it says ready, not from a sample taken before its exec
  await request(op, 'restart', { module: 'alpha' })
  const alpha = (await listed()).find(m => m.module === 'alpha')
  assert.equal(alpha.state, 'running')
  assert.ok(alpha.memoryBytes > 4 * 1024 * 1024, `alpha uses ${alpha.memoryBytes} bytes: node with the SDK, not a shell`)
  assert.equal(gw.gateway.usage('alpha.0')?.pid, alpha.instances[0].pid)
})

test('issue 10 A10: at most 16 operations wait per module; the 17th is refused at once, and a stop supersedes the 16', { timeout: 60_000 }, async (t) => {
  const { gw, op } = await setUp(t, [{ name: 'stuck', ...NEVER_READY }])
  void request(op, 'start', { module: 'stuck' })
  await starting(gw, 'stuck')
  const queued = Array.from({ length: 16 }, () => request(op, 'restart', { module: 'stuck' }))
  const refused = await request(op, 'restart', { module: 'stuck' })
  assert.equal(refused.error?.code, 'CONFLICT', JSON.stringify(refused))
  assert.match(refused.error?.message ?? '', /16 operations are already queued for stuck behind core\.start/)
  await request(op, 'stop', { module: 'stuck' })
  for (const reply of await Promise.all(queued)) assert.deepEqual(reply.error, { code: 'CONFLICT', message: 'superseded by a stop of stuck' })
})
