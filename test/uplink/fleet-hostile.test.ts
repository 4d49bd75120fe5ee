// Attacker's review, findings 2 and 7: the fleet CLI against a hostile upstream (a real Mosquitto whose ACL
// lets anyone write anything). A "gateway" that answers with terminal escapes in names, log lines and error
// messages gets none of them to the terminal raw; `fleet ls` holds at most --limit gateways and says how many
// more it saw, cuts long fields, says when statuses were still coming at --timeout, and a packet over the
// CLI's bound closes the connection with a sentence, exit 3.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { MqttClient } from 'mqtt'
import { MAX_INCOMING_PACKET_BYTES } from '../../core/cli/connect.js'
import { MAX_STATUS_BYTES } from '../../core/cli/fleet-status.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'
import { cli } from '../management/helpers.js'
import type { CliResult } from '../management/helpers.js'

const USERS = { evil: 'evil-secret-1', ops: 'ops-secret-1' }
/** ESC, or any C1 character */
const RAW = /[\x1b\x80-\x9f]/
const GATEWAYS = 25
let upstream: Upstream
let evil: MqttClient

function fleetCli (args: string[]): Promise<CliResult> {
  return cli([...args, '--via', upstream.url, '--ca', upstream.ca, '-u', 'ops'], { OUTPOST_PASS: USERS.ops, NO_COLOR: '1' })
}

const status = (version: string): Buffer => encodeCbor({ state: 'online', version, ts: Date.now(), since: Date.now(), modules: { total: 1, running: 1 } })
const name = (i: number): string => `gw-${String(i).padStart(2, '0')}`

before(async () => {
  upstream = await startUpstream(USERS, { acl: 'pattern readwrite #\n' })
  evil = await upstream.client('evil')
  // a gateway that answers every request, with escapes wherever a string goes
  await evil.publishAsync('outpost/gw-evil/status', status('1.0.0'), { qos: 1, retain: true })
  await evil.subscribeAsync('outpost/gw-evil/rpc/#', { qos: 1 })
  evil.on('message', (topic, payload) => {
    if (!topic.startsWith('outpost/gw-evil/rpc/')) return
    const [module, method] = topic.split('/').slice(3)
    const request = decodeCbor(payload) as { id: number, reply: string }
    const answer = `${module}.${method}` === 'core.info'
      ? { result: Buffer.alloc(MAX_INCOMING_PACKET_BYTES + 1) } // past the CLI's bound
      : `${module}.${method}` === 'core.list'
      ? { result: [{ module: 'm\x1b]0;pwned\x07', state: 'running', instances: [], budgetMiB: 64, memoryBytes: null, uptimeMs: 0, restarts: 0, failure: 'x\u009b2J', lastExit: null }] }
      : `${module}.${method}` === 'core.logs'
        ? { result: { lines: [{ seq: 1, ts: 0, source: 'm', instance: 0, level: 'info', text: 'raw \x1b[2J \u009b2J' }], next: 1 } }
        : { error: { code: 'HANDLER_FAILED', message: 'nope \x1b]52;c;AAAA\x07' } }
    void evil.publishAsync(request.reply, encodeCbor({ id: request.id, ...answer }), { qos: 0 })
  })
  // a fleet of 25 under the root "big", one with a version of the 64 characters a status may hold, with an escape
  // in it: written out, it is wider than its column (a longer one is a malformed status: fleet-malformed.test.ts)
  for (let i = 0; i < GATEWAYS; i++) {
    await evil.publishAsync(`big/${name(i)}/status`, status(i === 3 ? `9.9.9-\x1b[2J${'x'.repeat(54)}` : '1.0.0'), { qos: 1, retain: true })
  }
})

after(async () => {
  await evil?.endAsync()
  await upstream?.close()
})

test('a hostile gateway through --via: its names, log lines and error messages are written out, never raw', async () => {
  const ls = await fleetCli(['ls', '-g', 'gw-evil'])
  assert.equal(ls.code, 0, ls.stderr)
  assert.doesNotMatch(ls.stdout, RAW)
  assert.match(ls.stdout, /\nm\\x1b\]0;pwned\\x07\s+running .* x\\x9b2J\n/)
  const logs = await fleetCli(['logs', 'm', '-g', 'gw-evil'])
  assert.equal(logs.code, 0, logs.stderr)
  assert.doesNotMatch(logs.stdout, RAW)
  assert.ok(logs.stdout.endsWith(' raw \\x1b[2J \\x9b2J\n'), logs.stdout)
  const failed = await fleetCli(['status', 'm', '-g', 'gw-evil'])
  assert.equal(failed.code, 1)
  assert.equal(failed.stderr, 'outpost: gw-evil: core.status: nope \\x1b]52;c;AAAA\\x07\n')
})

test('fleet ls at its limit: every gateway, exit 0; past it: the first by fleet id, "+N more not shown", exit 7', async () => {
  const all = await fleetCli(['fleet', 'ls', '--topic-root', 'big', '--limit', String(GATEWAYS)])
  assert.equal(all.code, 0, all.stderr)
  const rows = all.stdout.trimEnd().split('\n').slice(1)
  assert.deepEqual(rows.map(r => r.split(/\s+/)[0]), Array.from({ length: GATEWAYS }, (_, i) => name(i)))

  const cut = await fleetCli(['fleet', 'ls', '--topic-root', 'big', '--limit', '10'])
  assert.equal(cut.code, 7, cut.stderr)
  const lines = cut.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 1 + 10 + 1)
  assert.deepEqual(lines.slice(1, 11).map(r => r.split(/\s+/)[0]), Array.from({ length: 10 }, (_, i) => name(i)))
  assert.equal(lines.at(-1), `+${GATEWAYS - 10} more gateway(s) not shown (--limit 10)`)
  // the long version is cut to the column's 64 characters, its escape written out
  const wide = lines.find(l => l.startsWith('gw-03')) ?? ''
  assert.match(wide, / 9\.9\.9-\\x1b\[2Jx+… /)
  assert.equal(/9\.9\.9\S+/.exec(wide)?.[0].length, 64)
  assert.doesNotMatch(cut.stdout, RAW)

  const json = await fleetCli(['fleet', 'ls', '--topic-root', 'big', '--limit', '10', '--json'])
  assert.equal(json.code, 7)
  assert.equal((JSON.parse(json.stdout) as unknown[]).length, 10)
  assert.deepEqual(JSON.parse(json.stderr), { incomplete: [`+${GATEWAYS - 10} more gateway(s) not shown (--limit 10)`] })

  const bad = await fleetCli(['fleet', 'ls', '--limit', '0'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--limit expects a whole number from 1 to 100000/)
})

test('fleet ls: a status under a name that is not a fleet id is counted, not listed; one over MAX_STATUS_BYTES is unreadable', async () => {
  await evil.publishAsync('odd/not a fleet id/status', status('1.0.0'), { qos: 1, retain: true })
  await evil.publishAsync('odd/gw-big/status', Buffer.concat([status('1.0.0'), Buffer.alloc(MAX_STATUS_BYTES)]), { qos: 1, retain: true })
  const r = await fleetCli(['fleet', 'ls', '--topic-root', 'odd'])
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.stdout, /\ngw-big\s+unreadable\s/)
  assert.match(r.stdout, /\n1 status\(es\) under a name that is not a fleet id, not listed\n$/)
})

test('fleet ls: statuses still arriving when --timeout ends the reading are said, exit 7', async () => {
  const file = path.join(upstream.dir, 'status.cbor')
  writeFileSync(file, status('1.0.0'))
  // a separate process publishing every 20 ms, for at most 20 s: the listing never sees 300 ms of quiet
  const publisher = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(upstream.port), '--cafile', upstream.ca, '-u', 'evil', '-P', USERS.evil,
    '-t', 'busy/gw-live/status', '-f', file, '--repeat', '1000', '--repeat-delay', '0.02'], { stdio: 'ignore' })
  const watcher = await upstream.client('evil')
  try {
    await new Promise<void>(resolve => {
      watcher.once('message', () => resolve())
      void watcher.subscribeAsync('busy/+/status')
    })
    const r = await fleetCli(['fleet', 'ls', '--topic-root', 'busy', '--timeout', '2000'])
    assert.equal(r.code, 7, r.stderr)
    assert.match(r.stdout, /^gw-live\s+online/m)
    assert.match(r.stdout, /\nstatuses were still arriving when --timeout \(2000 ms\) ended the reading: there may be more gateways\n$/)
  } finally {
    publisher.kill()
    await watcher.endAsync()
  }
})

test(`a packet over the CLI's bound (${MAX_INCOMING_PACKET_BYTES} bytes) closes the connection from its header: exit 3, one sentence`, async () => {
  // a reply, which the CLI waits for: a retained status this large could come after fleet ls's 300 ms of quiet
  const r = await fleetCli(['info', '-g', 'gw-evil'])
  assert.equal(r.code, 3)
  assert.match(r.stderr, /^outpost: mqtts:\/\/127\.0\.0\.1:\d+: the upstream broker sent a packet of \d+ bytes, more than the CLI reads \(16777216 bytes\): connection closed\n$/)
})
