// A module started through a wrapper script (review): one that does not exec the program says ready from
// another pid, which the core ignores; the core says so, once per start, naming both pids and the fix. One
// that execs keeps the pid and runs, with nothing said.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, fixture, waitFor } from '../helpers/gateway.js'

const node = JSON.stringify(process.execPath)
const echo = JSON.stringify(fixture('echo'))
const wrapperWarning = /said ready from pid \d+, not from pid \d+ that the core started: a wrapper script must exec the program/

test('review: a wrapper that does not exec the program: the core warns once, naming the instance, both pids and the fix', async (t) => {
  // the gateway's start waits until the module has settled: here, failed at its ready timeout (not restarted)
  const gw = await startTestGateway({ modules: [{ name: 'wrapped', command: ['sh', '-c', `${node} ${echo}; true`], restart: { restart: 'never', readyTimeoutMs: 8000 } }] })
  t.after(() => gw.stop())
  const instance = gw.gateway.modules.require('wrapped').instances[0]
  const started = gw.logs.map(l => /^started wrapped\.0 pid=(\d+)$/.exec(l.text)?.[1]).find(pid => pid !== undefined)
  const lines = gw.logs.filter(l => wrapperWarning.test(l.text))
  assert.equal(lines.length, 1, 'once for this start')
  assert.equal(lines[0]?.level, 'warn')
  assert.match(lines[0]?.text ?? '', new RegExp(`^wrapped\\.0 said ready from pid \\d+, not from pid ${String(started)} that the core started`))
  assert.notEqual(instance?.state.status, 'running')
})

test('review: a wrapper that execs the program: running, nothing said', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'wrapped', command: ['sh', '-c', `exec ${node} ${echo}`] }] })
  t.after(() => gw.stop())
  await waitFor('it running', () => gw.gateway.modules.require('wrapped').instances[0]?.state.status === 'running')
  assert.equal(gw.logs.filter(l => wrapperWarning.test(l.text)).length, 0)
})
