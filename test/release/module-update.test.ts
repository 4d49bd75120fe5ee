// issue 12, module-only updates: a real gateway, a real module whose `version` method says which program
// runs, bundles made and signed with the CLI and installed with `outpost update --module`. A good bundle (a
// folder, a single file) runs and is kept, a program that cannot start is rolled back with the reason,
// refused bundles change nothing, and the other module runs on untouched throughout.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { generateKeys } from '../../core/release/signing.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { connectOperator, fixture, startTestGateway, watchHooks } from '../helpers/gateway.js'
import type { HookLog, Operator, TestGateway } from '../helpers/gateway.js'
import { bundle, cli, hostileTar, MAIN, moduleFile, moduleFolder, signAs } from './module-bundles.js'

const run = promisify(execFile)

describe('module updates', { timeout: 600_000 }, () => {
  let dir: string
  let gw: TestGateway
  let op: Operator
  let hooks: HookLog
  let store: string
  const keyFile = 'ops.key'
  const keys = generateKeys()
  /** every state/other document published since the start */
  const otherStates: string[] = []
  let otherPid: number | null

  const outpost = async (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => {
    try {
      const r = await run(process.execPath, [MAIN, ...args, '--url', gw.url], { encoding: 'utf8' })
      return { code: 0, stdout: r.stdout, stderr: r.stderr }
    } catch (err) {
      const e = err as { code: number, stdout: string, stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }
  /** a CLI call that fails: its exit code and the error (--json) */
  const refused = async (args: string[]): Promise<{ exit: number, code: string, message: string }> => {
    const r = await outpost([...args, '--json'])
    assert.notEqual(r.code, 0, r.stdout)
    const { error } = JSON.parse(r.stderr) as { error: { code: string, message: string } }
    return { exit: r.code, ...error }
  }
  const version = async (): Promise<unknown> => (await op.call('counter', 'version')).result
  const entry = (): string => (JSON.parse(readFileSync(gw.manifestFile, 'utf8')) as { modules: Array<{ name: string, entry: string }> }).modules.find(m => m.name === 'counter')?.entry ?? ''
  const state = (): Record<string, unknown> | null => existsSync(path.join(store, 'update.json')) ? JSON.parse(readFileSync(path.join(store, 'update.json'), 'utf8')) as Record<string, unknown> : null
  const versions = (): string[] => (existsSync(store) ? readdirSync(store).filter(n => n !== 'update.json').sort() : [])
  /** the pid of a module's one instance, from core.list */
  const pidOf = async (module: string): Promise<number | null> => {
    const list = (await op.call('core', 'list')).result as Array<{ module: string, instances: Array<{ pid: number | null }> }>
    return list.find(m => m.module === module)?.instances[0]?.pid ?? null
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-module-update-'))
    writeFileSync(path.join(dir, keyFile), keys.privatePem, { mode: 0o600 })
    gw = await startTestGateway({
      updates: { keys: [keys.publicKey], keep: 2, healthTimeoutMs: 15_000, maxBundleBytes: 1_048_576 },
      modules: [
        { name: 'counter', entry: path.join(moduleFolder(dir, '1.0.0'), 'index.mjs') },
        { name: 'other', entry: fixture('echo') },
        { name: 'python', command: ['/bin/sh', '-c', 'exec sleep 600'], enabled: false },
        { name: 'sensor', entry: 'drivers/system', config: { intervalMs: 60_000 } },
      ],
    })
    store = path.join(gw.dir, 'outpost-state', 'modules', 'counter')
    op = await connectOperator(gw.url)
    hooks = await watchHooks(op, 'core')
    op.client.on('message', (topic, payload) => {
      if (topic === 'state/other' && payload.length > 0) otherStates.push((decodeCbor(payload) as { state: string }).state)
    })
    await op.client.subscribeAsync('state/other')
    assert.equal(await version(), '1.0.0')
    otherPid = await pidOf('other')
    assert.ok(otherPid !== null)
  })

  after(async () => {
    await op?.end()
    await gw?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a folder bundle: made, signed, installed; the module runs it, alone restarted, and it is kept', async () => {
    const file = bundle(dir, moduleFolder(dir, '1.1.0'), 'counter', '1.1.0', keyFile)
    const r = await outpost(['update', '--module', 'counter', file])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^module counter: 1\.1\.0 runs and is kept \(was \/.*\/index\.mjs\)\n$/)
    assert.equal(await version(), '1.1.0')
    assert.equal(entry(), path.join(store, '1.1.0', 'index.mjs'))
    assert.deepEqual(versions(), ['1.1.0'])
    assert.deepEqual({ ...state(), at: 0, entries: null }, { format: 1, module: 'counter', state: 'committed', from: path.join(dir, 'src', 'folder-1.0.0', 'index.mjs'), to: '1.1.0', entries: null, at: 0, by: 'core', healthTimeoutMs: 15_000 })
    assert.deepEqual(hooks.of('update').at(-1), { module: 'counter', state: 'committed', from: path.join(dir, 'src', 'folder-1.0.0', 'index.mjs'), to: '1.1.0' })
    const audit = readFileSync(path.join(gw.dir, 'audit.log'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as { op: string, module?: string, result: string, change?: { url: string } })
    assert.ok(audit.some(a => a.op === 'update' && a.module === 'counter' && a.result === 'ok' && /counter-1\.1\.0\.tar\.gz$/.test(a.change?.url ?? '')), JSON.stringify(audit))
  })

  it('a single-file bundle; then keep (2) prunes the versions beyond the running one and the one before', async () => {
    const r = await outpost(['update', '--module', 'counter', bundle(dir, moduleFile(dir, '1.2.0'), 'counter', '1.2.0', keyFile)])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await version(), '1.2.0')
    assert.equal(entry(), path.join(store, '1.2.0', 'single-1.2.0.mjs'))
    const again = await outpost(['update', '--module', 'counter', bundle(dir, moduleFile(dir, '1.2.1'), 'counter', '1.2.1', keyFile)])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /^module counter: 1\.2\.1 runs and is kept \(was 1\.2\.0\); removed 1\.1\.0\n$/)
    assert.deepEqual(versions(), ['1.2.0', '1.2.1'])
  })

  it('a program that cannot start: switched back, restarted on the previous one, and the reason reported', async () => {
    const r = await refused(['update', '--module', 'counter', bundle(dir, moduleFolder(dir, '1.3.0', true), 'counter', '1.3.0', keyFile)])
    assert.equal(r.exit, 1)
    assert.equal(r.code, 'UPDATE_ROLLED_BACK')
    assert.match(r.message, /^core\.update: module counter: 1\.3\.0 failed its health check \(.*counter: (backoff|starting|failed) \(last exit: exit-code code 1\)\); rolled back to 1\.2\.1, which is running/)
    assert.equal(await version(), '1.2.1')
    assert.equal(entry(), path.join(store, '1.2.1', 'single-1.2.1.mjs'))
    const s = state()
    assert.equal(s?.state, 'rolled-back')
    assert.equal(s?.to, '1.3.0')
    assert.match(String(s?.reason), /counter: (backoff|starting|failed) \(last exit: exit-code code 1\)/)
    assert.equal((hooks.of('update').at(-1) as { state: string }).state, 'rolled-back')
    assert.ok(gw.logs.some(l => l.source === 'counter' && /broken on purpose/.test(l.text)))
    const shown = await outpost(['update', '--status'])
    assert.match(shown.stdout, /^this gateway does not run from an installed release \(outpost-boot\): only its modules can be updated\nmodule counter: 1\.2\.1 → 1\.3\.0: rolled-back \(.*, by core\)\n {2}reason: /)
  })

  it('refused, nothing changed: another key, another module, a release bundle, corrupt, tampered, hostile paths, oversized', async () => {
    const before = { manifest: readFileSync(gw.manifestFile, 'utf8'), versions: versions(), state: state(), tree: readdirSync(gw.dir, { recursive: true }).sort() }
    const pid = await pidOf('counter')
    assert.ok(pid !== null)
    const bad = path.join(dir, 'bad')
    mkdirSync(bad)
    const otherKey = path.join(bad, 'other.key')
    writeFileSync(otherKey, generateKeys().privatePem, { mode: 0o600 })
    const good = bundle(dir, moduleFolder(dir, '1.4.0'), 'counter', '1.4.0', keyFile)
    const resign = (name: string, key: string): string => {
      const file = path.join(bad, name)
      copyFileSync(good, file)
      assert.equal(cli(['release', 'sign', file, '--key', key], dir).code, 0)
      return file
    }
    // a good bundle with one file changed after it was listed, then signed as it is
    const tampered = path.join(bad, 'tampered')
    mkdirSync(tampered)
    await run('tar', ['-xzf', good, '-C', tampered])
    writeFileSync(path.join(tampered, 'counter-1.4.0', 'version.mjs'), 'export const VERSION = "evil"\n')
    await run('tar', ['--format=ustar', '-czf', path.join(bad, 'tampered.tar.gz'), '-C', tampered, 'counter-1.4.0'])
    const garbage = path.join(bad, 'garbage.tar.gz')
    writeFileSync(garbage, 'not a tarball at all')
    const release = path.join(bad, 'release.tar.gz')
    hostileTar(release, [['outpost-1.4.0-linux-x64/release.json', 'f', JSON.stringify({ format: 1, name: 'outpost', version: '1.4.0', target: 'linux-x64', files: [] })]])
    const refusals: Array<[string, string, RegExp]> = [
      [resign('other-key.tar.gz', otherKey), 'RELEASE_SIGNATURE', /is signed by ed25519:\S+, which is not among the trusted keys/],
      [bundle(dir, moduleFolder(dir, '1.4.1'), 'thermostat', '1.4.1', keyFile), 'RELEASE_TARGET', /the bundle is for module thermostat, not for module counter/],
      [await signAs(garbage, 'counter', '1.4.2', keys.privatePem), 'RELEASE_INVALID', /not a gzip'd tar/],
      [await signAs(path.join(bad, 'tampered.tar.gz'), 'counter', '1.4.0', keys.privatePem), 'RELEASE_INVALID', /version\.mjs does not match its SHA-256 in release\.json/],
      [await signAs(hostileTar(path.join(bad, 'dotdot.tar.gz'), [['counter-1.4.3/../../escaped', 'f', 'x']]), 'counter', '1.4.3', keys.privatePem), 'RELEASE_INVALID', /entry "counter-1\.4\.3\/\.\.\/\.\.\/escaped" is not a plain relative path/],
      [await signAs(hostileTar(path.join(bad, 'absolute.tar.gz'), [['/tmp/escaped', 'f', 'x']]), 'counter', '1.4.4', keys.privatePem), 'RELEASE_INVALID', /entry "\/tmp\/escaped" is not a plain relative path/],
      [await signAs(hostileTar(path.join(bad, 'symlink.tar.gz'), [['counter-1.4.5/', 'd'], ['counter-1.4.5/out', 'l', '../../../..'], ['counter-1.4.5/out/escaped', 'f', 'x']]), 'counter', '1.4.5', keys.privatePem), 'RELEASE_INVALID', /entry "counter-1\.4\.5\/out" is a symbolic link/],
      [bundle(dir, moduleFile(dir, '1.4.6', 1_200_000), 'counter', '1.4.6', keyFile), 'UPDATE_DOWNLOAD', /over the limit of 1048576 \(updates\.maxBundleBytes\)/],
      ['http://192.0.2.1/counter.tar.gz', 'UPDATE_DOWNLOAD', /an update is downloaded over https:\/\//],
    ]
    for (const [source, code, message] of refusals) {
      const r = await refused(['update', '--module', 'counter', source, ...(source.startsWith('http') ? ['--sig', `${good}.sig`] : [])])
      assert.deepEqual([r.exit, r.code], [1, code], `${source}: ${r.message}`)
      assert.match(r.message, message, source)
    }
    // a release bundle signed as a release: refused from its signature
    writeFileSync(`${release}.sig`, JSON.stringify({ ...JSON.parse(readFileSync(`${good}.sig`, 'utf8')) as object, target: 'linux-x64' }))
    const asRelease = await refused(['update', '--module', 'counter', release])
    assert.equal(asRelease.code, 'RELEASE_TARGET')
    assert.match(asRelease.message, /the bundle is for a release for linux-x64, not for module counter/)
    // modules a bundle cannot replace
    for (const [module, code, message] of [['sensor', 'UPDATE_UNSUPPORTED', /runs the shipped drivers\/system: it is updated with its release/], ['python', 'UPDATE_UNSUPPORTED', /runs a command/], ['nobody', 'NO_SUCH_MODULE', /no module named "nobody"/]] as const) {
      const r = await refused(['update', '--module', module, good])
      assert.deepEqual([r.exit, r.code], [module === 'nobody' ? 5 : 1, code])
      assert.match(r.message, message)
    }
    assert.deepEqual({ manifest: readFileSync(gw.manifestFile, 'utf8'), versions: versions(), state: state(), tree: readdirSync(gw.dir, { recursive: true }).sort() }, before)
    assert.equal(existsSync(path.join(os.tmpdir(), 'escaped')), false)
    assert.equal(await pidOf('counter'), pid, 'counter was not restarted')
    assert.equal(await version(), '1.2.1')
  })

  it('the other module ran on through every update: same process, never anything but running', async () => {
    assert.equal(await pidOf('other'), otherPid)
    assert.ok(otherStates.length > 0 && otherStates.every(s => s === 'running'), otherStates.join())
  })

  it('outpost release module refuses what a module cannot run: TypeScript, a symbolic link, a folder without its main', () => {
    const src = path.join(dir, 'src', 'bad')
    mkdirSync(src, { recursive: true })
    writeFileSync(path.join(src, 'index.ts'), 'export {}\n')
    assert.match(cli(['release', 'module', path.join(src, 'index.ts'), '--name', 'counter', '--version', '2.0.0'], dir).stderr, /main "index\.ts" is not compiled JavaScript/)
    assert.match(cli(['release', 'module', src, '--name', 'counter', '--version', '2.0.0'], dir).stderr, /no index\.js, index\.mjs or index\.cjs in it \(name the program with --main\)/)
    writeFileSync(path.join(src, 'index.js'), '\n')
    execFileSync('ln', ['-s', '/etc/passwd', path.join(src, 'link')])
    assert.match(cli(['release', 'module', src, '--name', 'counter', '--version', '2.0.0'], dir).stderr, /only regular files and folders belong in a release \(this is a symbolic link\)/)
    assert.match(cli(['release', 'module', src, '--name', 'Counter', '--version', '2.0.0'], dir).stderr, /"Counter" is not a module name/)
  })
})
