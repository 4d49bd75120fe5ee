// issue 10 B4: the Python module of docs/protocol.md, taken from the document itself (so the two cannot
// drift) and run as a module of a real gateway with Debian's python3, paho-mqtt ≥ 2.0 and cbor2: it says
// ready, answers CBOR and JSON calls, emits its hook, exits when its connection is lost (and is restarted),
// and stops cleanly on SIGTERM.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import mqtt from 'mqtt'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { installRoot } from '../../core/paths.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { startTestGateway, connectOperator, waitFor, gone } from '../helpers/gateway.js'
import { at, cborItem } from '../helpers/cbor-items.js'

// Debian's interpreter, with Debian's packages (a pyenv or venv python3 earlier on PATH would not have them)
const PYTHON = '/usr/bin/python3'

/** the one ```python block of the section "A module in Python" */
function exampleFromDocs (): string {
  const doc = readFileSync(path.join(installRoot, 'docs', 'protocol.md'), 'utf8')
  const section = doc.slice(doc.indexOf('## A module in Python'))
  const blocks = [...section.matchAll(/^```python\n([\s\S]*?)^```$/gm)]
  assert.equal(blocks.length, 1, 'one python block in "A module in Python"')
  return blocks[0]?.[1] ?? ''
}

/** why the example cannot run here, or null: .ci/run installs python3-paho-mqtt 2.x (from trixie) and python3-cbor2 */
function missingPython (): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import cbor2, paho.mqtt; print(paho.mqtt.__version__)'], { encoding: 'utf8' })
  if (probe.error !== undefined) return `${PYTHON}: ${probe.error.message}`
  if (probe.status !== 0) return `${PYTHON} lacks cbor2 or paho-mqtt: ${probe.stderr.trim().split('\n').at(-1) ?? ''}`
  const major = Number(probe.stdout.trim().split('.')[0])
  return major >= 2 ? null : `paho-mqtt ${probe.stdout.trim()} cannot connect over a Unix socket (2.0 can)`
}

test('issue 10 B4: the docs\' Python module runs, answers, emits, exits when its connection is lost, and stops cleanly', { timeout: 90_000 }, async (t) => {
  const missing = missingPython()
  if (missing !== null) {
    t.skip(`${missing} (.ci/run installs python3-paho-mqtt 2.x and python3-cbor2)`)
    return
  }
  const gw = await startTestGateway({ modules: [] })
  t.after(() => gw.stop())
  writeFileSync(path.join(gw.dir, 'adder.py'), exampleFromDocs())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const hooks: Buffer[] = []
  op.client.on('message', (topic, payload) => { if (topic === 'hooks/adder/tick') hooks.push(payload) })
  await op.client.subscribeAsync('hooks/adder/tick')

  // added as docs/protocol.md says to declare it (unbuffered stdout: its log lines arrive as printed)
  const added = await op.call('core', 'add', { spec: { name: 'adder', command: [PYTHON, '-u', './adder.py'] } }, 30_000)
  assert.equal((added.result as { state?: string } | undefined)?.state, 'running', JSON.stringify(added))
  const instance = gw.gateway.modules.require('adder').instances[0]
  const firstPid = instance?.process?.pid
  assert.ok(firstPid !== undefined)

  assert.deepEqual(await op.call('adder', 'add', { a: 2, b: 3.5 }), { id: 2, result: 5.5 })
  assert.equal((await op.call('adder', 'add', { a: 'x' })).error?.code, 'BAD_ARGUMENTS')
  assert.equal((await op.call('adder', 'nope')).error?.code, 'NO_SUCH_METHOD')
  // a JSON request (an operator's shell) reaches the module as JSON and is answered in JSON
  const shell = await mqtt.connectAsync(gw.url, { protocolVersion: 4, clientId: 'shell', reconnectPeriod: 0 })
  t.after(() => shell.endAsync())
  await shell.subscribeAsync('reply/shell')
  const jsonReply = new Promise<string>(resolve => shell.once('message', (_topic, payload) => resolve(payload.toString())))
  shell.publish('rpc/adder/add', ' {"id":"j1","reply":"reply/shell","args":{"a":1,"b":2}}')
  assert.deepEqual(JSON.parse(await jsonReply), { id: 'j1', result: 3 })

  const tick = await waitFor('a tick hook', () => hooks[0], 10_000)
  const envelope = decodeCbor(tick) as { data: { t: number }, ts: number, instance: number }
  assert.equal(envelope.instance, 0)
  assert.equal(typeof envelope.data.t, 'number')
  assert.equal(at(cborItem(tick), 'ts').major, 0, 'ts travels as a CBOR integer')
  assert.ok(Math.abs(envelope.ts - Date.now()) < 60_000)

  // the core side drops the connection: the process must end (sys.exit in paho's thread would not), and the
  // supervisor starts a new one
  const clients = (gw.gateway.broker.aedes as unknown as { clients: Record<string, { close (): void } | undefined> }).clients
  clients['adder.0']?.close()
  await waitFor('the first process to exit', () => gone(firstPid) ? true : undefined, 10_000)
  await waitFor('a new process, running', () => (instance?.state.status === 'running' && instance.process?.pid !== firstPid ? true : undefined), 20_000)
  assert.equal(instance?.state.exits.at(-1)?.code, 1)
  assert.ok(gw.logs.some(l => l.source === 'adder' && l.level === 'error' && l.text.startsWith('lost the broker connection')), 'its <3> line is an error')
  assert.equal((await op.call('adder', 'add', { a: 1, b: 1 })).result, 2)

  // SIGTERM: offline presence, exit 0
  const stopped = await op.call('core', 'stop', { module: 'adder' }, 30_000)
  assert.equal((stopped.result as { state?: string } | undefined)?.state, 'stopped', JSON.stringify(stopped))
  assert.deepEqual([instance?.state.exits.at(-1)?.code, instance?.state.exits.at(-1)?.reason], [0, 'stopped'])
})
