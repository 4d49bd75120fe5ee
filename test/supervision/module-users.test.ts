// issue 10 review: a hostile module cannot take another module's identity: no secret is in any environment,
// and under its own user (manifest `user`, `moduleGroup`) it can read no other module's environment, fds or
// config, not the manifest, and signal neither the core nor its siblings — while it still reaches the
// broker and the board, and the core still measures, confines and stops it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGateway } from '../../core/gateway.js'
import { createCoreLog } from '../../core/log.js'
import { connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { ProbeReport } from '../fixtures/modules/hostile.js'
import { missingCapabilities } from '../../core/manifest/users.js'
import { validateManifest } from '../../core/manifest/load.js'

const quiet = createCoreLog({ write: () => {} })
const created: Array<['user' | 'group', string]> = []

function ensure (kind: 'user' | 'group', name: string): void {
  if (spawnSync('getent', [kind === 'user' ? 'passwd' : 'group', name]).status === 0) return
  const made = kind === 'user'
    ? spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' })
    : spawnSync('groupadd', ['--system', name], { encoding: 'utf8' })
  assert.equal(made.status, 0, made.stderr)
  created.push([kind, name])
}

function cleanUp (): void {
  for (const [kind, name] of created.reverse()) spawnSync(kind === 'user' ? 'userdel' : 'groupdel', [name])
}

async function gatewayWith (modules: unknown[], extra: Record<string, unknown> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-users-'))
  fs.chmodSync(dir, 0o711) // others may pass (to the runtime folder), not list
  const manifestFile = path.join(dir, 'gateway.json')
  fs.writeFileSync(manifestFile, JSON.stringify({ gateway: 'users', board: 'sim', broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] }, modules, ...extra }), { mode: 0o600 })
  const gateway = await startGateway({ manifestFile, log: quiet, runtimeDir: path.join(dir, 'run') })
  const op = await connectOperator(gateway.broker.listeners[0]?.url ?? '')
  return {
    gateway,
    manifestFile,
    op,
    pid: (name: string) => gateway.modules.require(name).instances[0]?.process?.pid ?? -1,
    async stop () {
      await op.end()
      await gateway.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

test('issue 10 review: under the same user a module reads its siblings\' environments, but no secret is in any of them', async (t) => {
  const intruder = path.resolve(path.dirname(fixture('hostile')), '../../management/fixtures/intruder.js')
  const gw = await gatewayWith([{ name: 'hostile', entry: fixture('hostile') }, { name: 'victim', entry: intruder }])
  t.after(() => gw.stop())
  const secret = (await gw.op.call('victim', 'try', { action: 'secret' })).result as string
  assert.equal(typeof secret, 'string')
  assert.ok(secret.length >= 32)
  const probe = await gw.op.call('hostile', 'probe', { pids: { victim: gw.pid('victim'), core: process.pid, self: gw.pid('hostile') }, read: {}, write: {}, signal: 0 })
  const report = probe.result as ProbeReport
  assert.deepEqual(report.environ, { victim: 'ok', core: 'ok', self: 'ok' }, 'the same user can read them: the test is meaningful')
  for (const [name, environ] of Object.entries(report.environs)) {
    assert.ok(!environ.includes(secret), `the victim's secret is in the environment of ${name}`)
    assert.ok(!environ.includes('OUTPOST_PASSWORD'), `${name} has OUTPOST_PASSWORD`)
  }
})

test('issue 10 review: a hostile module under its own user can read and signal nothing of the core and other modules', { skip: process.geteuid?.() !== 0 ? 'needs root to create users and change to them (CI runs as root)' : false }, async (t) => {
  ensure('group', 'outpost-t-mods')
  ensure('user', 'outpost-t-hostile')
  ensure('user', 'outpost-t-victim')
  t.after(cleanUp)
  const gw = await gatewayWith([
    { name: 'hostile', entry: fixture('hostile'), user: 'outpost-t-hostile', config: { mine: true } },
    { name: 'victim', entry: fixture('echo'), user: 'outpost-t-victim', config: { greeting: 'private' } },
    { name: 'plain', entry: fixture('echo'), config: { greeting: 'core user' } },
  ], { moduleGroup: 'outpost-t-mods' })
  t.after(() => gw.stop())
  const runDir = gw.gateway.runtimeDir
  const hostilePid = gw.pid('hostile')
  assert.equal(fs.statSync(`/proc/${hostilePid}`).uid, Number(spawnSync('id', ['-u', 'outpost-t-hostile'], { encoding: 'utf8' }).stdout))

  const probe = await gw.op.call('hostile', 'probe', {
    pids: { core: process.pid, victim: gw.pid('victim'), plain: gw.pid('plain') },
    read: { victimConfig: path.join(runDir, 'victim.config.json'), plainConfig: path.join(runDir, 'plain.config.json'), manifest: gw.manifestFile, ownConfig: path.join(runDir, 'hostile.config.json'), board: path.join(runDir, 'board.json') },
    write: { manifest: gw.manifestFile },
    signal: 'SIGTERM',
  })
  const report = probe.result as ProbeReport
  assert.deepEqual(report.environ, { core: 'EACCES', victim: 'EACCES', plain: 'EACCES' })
  assert.deepEqual(report.fds, { core: 'EACCES', victim: 'EACCES', plain: 'EACCES' })
  assert.deepEqual(report.read, { victimConfig: 'EACCES', plainConfig: 'EACCES', manifest: 'EACCES', ownConfig: 'ok', board: 'ok' })
  assert.deepEqual(report.write, { manifest: 'EACCES' })
  assert.deepEqual(report.signal, { core: 'EPERM', victim: 'EPERM', plain: 'EPERM' })
  assert.equal(gw.gateway.modules.require('victim').instances[0]?.state.status, 'running')

  // the core still measures it (its process tree's memory) and stops it
  const usage = await waitFor('a memory sample of the hostile module', () => gw.gateway.usage('hostile.0'), 10_000)
  assert.ok(usage.bytes > 0)
  await gw.gateway.modules.stop('hostile')
  assert.equal(gw.gateway.modules.require('hostile').instances[0]?.state.status, 'stopped')
  assert.throws(() => process.kill(hostilePid, 0), { code: 'ESRCH' })
})

test('issue 10 review: the core needs CAP_SETUID, CAP_SETGID, CAP_KILL and CAP_CHOWN for module users, read from CapEff', () => {
  assert.deepEqual(missingCapabilities('CapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n'), [])
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000000000\n'), ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID'])
  assert.deepEqual(missingCapabilities('CapEff:\t00000000000000c0\n'), ['CAP_CHOWN', 'CAP_KILL'])
})

test('issue 10 review: a user the system lacks, groups without a user, a user without moduleGroup and uid 0 are refused, each naming its module', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-users-check-'))
  try {
    const file = path.join(dir, 'gateway.json')
    const input = { gateway: 'check', board: 'sim', modules: [
      { name: 'ghost', entry: fixture('echo'), user: 'outpost-no-such-user' },
      { name: 'grouped', entry: fixture('echo'), groups: ['dialout'] },
      { name: 'rooted', entry: fixture('echo'), user: 'root' },
    ] }
    fs.writeFileSync(file, JSON.stringify(input), { mode: 0o600 })
    await assert.rejects(validateManifest(input, file), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MANIFEST_INVALID')
      assert.match(err.message, /modules\[0\] \(ghost\)\.user: module ghost: no user "outpost-no-such-user" on this system/)
      assert.match(err.message, /modules\[1\] \(grouped\)\.groups: supplementary groups need a "user"/)
      assert.match(err.message, /modules\[2\] \(rooted\)\.user: module rooted: user "root" is uid 0/)
      assert.match(err.message, /moduleGroup: modules ghost, rooted run under their own users: name the group they share/)
      return true
    })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
