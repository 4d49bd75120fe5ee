// The fleet CLI (issue 11): the same `outpost` commands, as the real binary, through a real Mosquitto upstream
// (TLS, password file, the shipped ACL example) to a real gateway's uplink; `outpost fleet ls` from the
// retained statuses; and each way it cannot reach a gateway said at once, in one sentence.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { encodeCbor } from '../../core/protocol/codec.js'
import { connectOperator, fixture, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { startUpstream } from '../helpers/upstream.js'
import { poll } from '../helpers/wait.js'
import type { Upstream } from '../helpers/upstream.js'
import { CLI, auditRecords, cli } from '../management/helpers.js'
import type { CliResult } from '../management/helpers.js'

const USERS = { 'gw-a': 'gateway-a-secret', 'gw-b': 'gateway-b-secret', alice: 'alice-secret', bob: 'bob-secret' }
let upstream: Upstream
let gateway: TestGateway
let local: Operator

/** `outpost <args> --via <upstream> --ca <ca> -u <user>`, the password from the environment */
function fleetCli (user: keyof typeof USERS, args: string[], password: string = USERS[user]): Promise<CliResult> {
  return cli([...args, '--via', upstream.url, '--ca', upstream.ca, '-u', user], { OUTPOST_PASS: password, NO_COLOR: '1' })
}
const onA = (user: keyof typeof USERS, args: string[]): Promise<CliResult> => fleetCli(user, [...args, '--gateway', 'gw-a'])

before(async () => {
  upstream = await startUpstream(USERS)
  gateway = await startTestGateway({
    gateway: 'gw-a',
    modules: [{ name: 'alpha', entry: fixture('echo') }],
    uplink: {
      url: upstream.url, fleetId: 'gw-a', username: 'gw-a', password: USERS['gw-a'], ca: upstream.ca, keepaliveSeconds: 5,
      backoff: { initialMs: 100, maxMs: 1000 },
      operators: [{ user: 'alice', role: 'admin' }], // bob has no role on gw-a
      expose: [{ module: 'alpha', methods: ['echo'], role: 'admin' }],
    },
  })
  local = await connectOperator(gateway.url)
  // gw-b was here once and left cleanly: its retained status says offline (with an escape sequence in its version)
  const gwB = await upstream.client('gw-b')
  await gwB.publishAsync('outpost/gw-b/status', encodeCbor({ state: 'offline', fleetId: 'gw-b', version: '0.1.0\x1b[2J', ts: Date.UTC(2026, 0, 2), since: Date.UTC(2026, 0, 1) }), { qos: 1, retain: true })
  await gwB.endAsync()
  // the uplink says online at once, then again 1 s after its modules' states settle
  await poll(async () => {
    const r = await fleetCli('alice', ['fleet', 'ls', '--json'])
    return (r.code === 0 && JSON.parse(r.stdout).some((g: any) => g.gateway === 'gw-a' && g.state === 'online' && g.modules.running === 2)) || undefined
  }, 60, 200)
})

after(async () => {
  await local?.end()
  await gateway?.stop()
  await upstream?.close()
})

test('ls, status, config and call through the upstream, connection options before the command as the issue writes them', async () => {
  const ls = await cli(['--via', upstream.url, '--gateway', 'gw-a', '--ca', upstream.ca, '-u', 'alice', 'ls', '--json'], { OUTPOST_PASS: USERS.alice })
  assert.equal(ls.code, 0, ls.stderr)
  assert.deepEqual(JSON.parse(ls.stdout).map((m: { module: string }) => m.module).sort(), ['alpha', 'uplink'])
  const table = await onA('alice', ['ls'])
  assert.match(table.stdout, /^MODULE\s+STATE/)
  assert.match(table.stdout, /\nalpha\s+running\s+1\/1/)

  const status = await onA('alice', ['status', 'alpha', '--json'])
  assert.equal(status.code, 0, status.stderr)
  assert.equal(JSON.parse(status.stdout).module, 'alpha')

  const changed = await onA('alice', ['config', 'alpha', '--set', 'colour=blue'])
  assert.equal(changed.code, 0, changed.stderr)
  const shown = await onA('alice', ['config', 'alpha'])
  assert.deepEqual(JSON.parse(shown.stdout).config, { colour: 'blue' })
  const record = auditRecords(gateway.dir).find(r => r.op === 'configure')
  assert.deepEqual(record?.who, { kind: 'fleet', role: 'admin', user: 'alice', clientId: 'uplink.0' })

  const call = await onA('alice', ['call', 'alpha.echo', '{"a":[1,"two"]}'])
  assert.equal(call.code, 0, call.stderr)
  assert.deepEqual(JSON.parse(call.stdout), { a: [1, 'two'] })
  const hidden = await onA('alice', ['call', 'alpha.whoami'])
  assert.equal(hidden.code, 4)
  assert.equal(hidden.stderr, 'outpost: gw-a: alpha.whoami: alpha.whoami is not exposed to the fleet\n')
})

test('top prints a frame through the upstream (not on a terminal: one frame, then exit)', async () => {
  const top = await onA('alice', ['top'])
  assert.equal(top.code, 0, top.stderr)
  assert.match(top.stdout, /^outpost top — gw-a on sim/)
  assert.match(top.stdout, /\nalpha\s+running\s+\d+/)
})

test('logs -f through the upstream follows new lines (by polling logs with since) until Ctrl-C', async () => {
  const follower = spawn(process.execPath, [CLI, 'logs', 'alpha', '-f', '-n', '1', '--via', upstream.url, '--ca', upstream.ca, '-u', 'alice', '-g', 'gw-a'], { env: { PATH: process.env.PATH ?? '', OUTPOST_PASS: USERS.alice, NO_COLOR: '1' } })
  let out = ''
  let err = ''
  follower.stdout.on('data', chunk => { out += chunk })
  follower.stderr.on('data', chunk => { err += chunk })
  const exited = new Promise<number | null>(resolve => follower.once('exit', code => resolve(code)))
  try {
    await waitFor('the tail', () => out.includes('\n'), 15_000).catch(e => { throw new Error(`${(e as Error).message}: ${err}`) })
    const before = out.split('echo ready').length
    await local.call('core', 'restart', { module: 'alpha' }, 15_000)
    await waitFor('a followed line', () => out.split('echo ready').length > before, 15_000)
    follower.kill('SIGINT')
    assert.equal(await exited, 0, err)
    assert.equal(err, '')
  } finally {
    follower.kill('SIGKILL')
  }
})

test('fleet ls: every gateway seen, sorted, online and offline, with version, modules and queue; --json', async () => {
  const json = await fleetCli('bob', ['fleet', 'ls', '--json'])
  assert.equal(json.code, 0, json.stderr)
  const rows = JSON.parse(json.stdout)
  assert.deepEqual(rows.map((r: { gateway: string }) => r.gateway), ['gw-a', 'gw-b'])
  assert.equal(rows[0].state, 'online')
  assert.match(rows[0].version, /^\d+\.\d+\.\d+/)
  assert.deepEqual(rows[0].modules, { total: 2, running: 2 })
  assert.deepEqual(rows[0].queue.dropped, { full: 0, age: 0, tooLarge: 0 })
  assert.equal(rows[1].state, 'offline')
  const text = await fleetCli('bob', ['fleet', 'ls'])
  assert.equal(text.code, 0, text.stderr)
  const lines = text.stdout.trimEnd().split('\n')
  assert.match(lines[0] ?? '', /^GATEWAY\s+STATE\s+VERSION\s+MODULES\s+LAST STATUS\s+UP SINCE\s+QUEUE\s+DROPPED$/)
  assert.match(lines[1] ?? '', /^gw-a\s+online\s+\d+\.\d+\.\d+\S*\s+2\/2\s+\d+s ago\s+\S+\s+0 \(0\.0 MiB\)\s+0$/)
  // a gateway writes its own status: its control characters reach the terminal written out, never raw
  assert.match(lines[2] ?? '', /^gw-b\s+offline\s+0\.1\.0\\x1b\[2J\s+-\s+\S+ ago\s+-\s+-\s+-$/)
  assert.doesNotMatch(text.stdout, /[\x1b\x80-\x9f]/)
  const elsewhere = await fleetCli('bob', ['fleet', 'ls', '--topic-root', 'other'])
  assert.equal(elsewhere.stdout, 'no gateway has a status under other/+/status\n')
})

test('a gateway unknown or offline is said at once, not after the timeout; exit 3', async () => {
  // --timeout 60000: a "no reply within" would mean the CLI waited for the deadline instead of reading the status
  const unknown = await fleetCli('alice', ['ls', '--gateway', 'gw-z', '--timeout', '60000'])
  assert.equal(unknown.code, 3)
  assert.match(unknown.stderr, /^outpost: gateway gw-z is unknown on mqtts:\/\/127\.0\.0\.1:\d+: no retained status on outpost\/gw-z\/status \(check --gateway/)
  const offline = await fleetCli('alice', ['ls', '--gateway', 'gw-b', '--timeout', '60000'])
  assert.equal(offline.code, 3)
  assert.equal(offline.stderr, `outpost: gateway gw-b is offline since 2026-01-02T00:00:00.000Z (its uplink is not connected to ${upstream.url})\n`)
  const otherRoot = await fleetCli('alice', ['ls', '--gateway', 'gw-a', '--topic-root', 'fleet/eu', '--json'])
  assert.equal(otherRoot.code, 3)
  assert.match(otherRoot.stderr, /"code":"GATEWAY_UNREACHABLE".*no retained status on fleet\/eu\/gw-a\/status/)
})

test('the upstream refusing the login, and an operator without a role on the gateway, are told apart; exit 4', async () => {
  const wrong = await fleetCli('alice', ['ls', '--gateway', 'gw-a'], 'not-the-password')
  assert.equal(wrong.code, 4)
  assert.match(wrong.stderr, /^outpost: mqtts:\/\/127\.0\.0\.1:\d+: the upstream broker refused the login/)
  const bob = await onA('bob', ['ls'])
  assert.equal(bob.code, 4)
  assert.equal(bob.stderr, 'outpost: gw-a: core.list: fleet operator bob has no role on this gateway\n')
  const noUser = await cli(['ls', '--via', upstream.url, '--ca', upstream.ca, '--gateway', 'gw-a'])
  assert.equal(noUser.code, 2)
  assert.match(noUser.stderr, /--via needs --user/)
})
