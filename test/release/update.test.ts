// issue 12, updates with rollback: a real x64 bundle installed into a prefix by install.sh, run by
// outpost-boot under a loop that restarts it as systemd would (service.ts), and updated by `outpost update`
// with bundles re-packed from it (test/helpers/repack.ts): a good one runs, refused ones change nothing, one
// whose module cannot start is rolled back with the reason, and a SIGKILL at every step of an update leaves a
// gateway that starts on a whole release and says what became of the update.
import assert from 'node:assert/strict'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../bench/lib/stacks.js'
import { makeModuleBundle } from '../../core/release/module-bundle.js'
import { signBundle, generateKeys } from '../../core/release/signing.js'
import { UPDATE_STEPS } from '../../core/update/checkpoint.js'
import type { UpdateState } from '../../core/update/install.js'
import { projectRoot } from '../../release/build.js'
import { connectOperator, poll } from '../helpers/gateway.js'
import { repack } from '../helpers/repack.js'
import { build, built } from './bundles.js'
import { startService } from './service.js'
import type { Service } from './service.js'

const MAIN = fileURLToPath(new URL('../../core/cli/main.js', import.meta.url))
const run = promisify(execFile)

interface Status { release: string, last: UpdateState | null }

describe('updates with rollback', { timeout: 1_200_000 }, () => {
  let dir: string
  let prefix: string
  let url: string
  let service: Service
  const bundles: Record<string, string> = {}
  const keys = generateKeys()

  const outpost = async (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => {
    try {
      const r = await run(process.execPath, [MAIN, ...args, '--url', url], { encoding: 'utf8' })
      return { code: 0, stdout: r.stdout, stderr: r.stderr }
    } catch (err) {
      const e = err as { code: number, stdout: string, stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }

  /**
   * core.info's update part and the module's state, once the gateway answers (it restarts during updates). Bounded:
   * a connection the gateway accepted and then went away from before its CONNACK never settles in mqtt.js (with
   * no reconnection), and waiting on it held a CI run until the test's own timeout, with nothing said
   */
  const status = async (): Promise<{ update: Status, health: string, startedAt: number } | undefined> => {
    let timer: NodeJS.Timeout | undefined
    const gaveUp = new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), 15_000) })
    try {
      return await Promise.race([ask(), gaveUp])
    } finally {
      clearTimeout(timer)
    }
  }
  const ask = async (): Promise<{ update: Status, health: string, startedAt: number } | undefined> => {
    try {
      const op = await connectOperator(url)
      try {
        const info = (await op.call('core', 'info')).result as { update: Status, startedAt: number }
        const list = (await op.call('core', 'list')).result as Array<{ module: string, state: string }>
        return { update: info.update, health: list.find(m => m.module === 'health')?.state ?? 'absent', startedAt: info.startedAt }
      } finally {
        await op.end()
      }
    } catch {
      return undefined
    }
  }

  /** waits until the gateway runs `release` with its module running and no update on trial */
  const settled = async (release: string, timeoutMs = 180_000): Promise<{ update: Status, startedAt: number }> => {
    const until = Date.now() + timeoutMs
    let last: unknown
    while (Date.now() < until) {
      const s = await status()
      last = s
      if (s !== undefined && s.update.release === release && s.health === 'running' && s.update.last?.state !== 'trial') return s
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    throw new Error(`the gateway did not settle on ${release} within ${timeoutMs} ms; last status ${JSON.stringify(last)}\n${service.output().slice(-4000)}`)
  }

  const snapshot = (): { releases: string[], current: string, state: string | null } => ({
    releases: readdirSync(path.join(prefix, 'opt/outpost/releases')).sort(),
    current: readlinkSync(path.join(prefix, 'opt/outpost/current')),
    state: existsSync(path.join(prefix, 'var/lib/outpost/update.json')) ? readFileSync(path.join(prefix, 'var/lib/outpost/update.json'), 'utf8') : null,
  })

  // an update cycle under a loaded machine takes longer than npm test's default 120 s per test
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-update-'))
    const { out, results } = await build(['linux-x64'])
    const base = built(results, 'linux-x64').file
    const make = (version: string, extra: Partial<Parameters<typeof repack>[2]> = {}): Promise<string> => repack(base, dir, { version, privatePem: keys.privatePem, ...extra })
    bundles.v1 = await make('1.0.0')
    bundles.v2 = await make('1.1.0')
    bundles.v3 = await make('1.3.0')
    // the module the manifest runs (drivers/system) exits at start in this release
    bundles.broken = await make('1.2.0', {
      edit: folder => writeFileSync(path.join(folder, 'app/build/drivers/system/index.js'), 'process.stderr.write("broken on purpose\\n")\nprocess.exit(1)\n'),
    })
    // refused bundles need no release inside: a target is refused from the signature, before the download
    bundles.otherKey = path.join(dir, 'other-key.tar.gz')
    copyFileSync(bundles.v3, bundles.otherKey)
    writeFileSync(`${bundles.otherKey}.sig`, JSON.stringify(await signBundle(bundles.otherKey, generateKeys().privatePem)))
    // small signed tarballs: they are refused before their contents could matter
    const tarball = async (version: string, target: string, files: Record<string, string>, listed: unknown[]): Promise<string> => {
      const top = path.join(dir, 'small', `outpost-${version}-${target}`)
      mkdirSync(top, { recursive: true })
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(top, name), text)
      writeFileSync(path.join(top, 'release.json'), JSON.stringify({ format: 1, name: 'outpost', version, target, commit: '', dirty: false, files: listed }))
      const file = path.join(dir, `${path.basename(top)}.tar.gz`)
      execFileSync('tar', ['--format=ustar', '-czf', file, '-C', path.dirname(top), path.basename(top)])
      writeFileSync(`${file}.sig`, JSON.stringify(await signBundle(file, keys.privatePem)))
      return file
    }
    // another target: refused from the signature, before the download
    bundles.arm = await tarball('1.4.0', 'linux-arm64', {}, [])
    // a module bundle (outpost release module): for one module's program, not a release
    mkdirSync(path.join(dir, 'small'), { recursive: true })
    writeFileSync(path.join(dir, 'small', 'health.js'), '\n')
    bundles.module = (await makeModuleBundle({ source: path.join(dir, 'small', 'health.js'), module: 'health', version: '1.5.0', outDir: dir })).file
    writeFileSync(`${bundles.module}.sig`, JSON.stringify(await signBundle(bundles.module, keys.privatePem)))
    // signed as it is, but a file differs from what its release.json says (a damaged build)
    bundles.corrupt = await tarball('1.6.0', 'linux-x64', { 'install.sh': 'echo damaged\n' }, [{ path: 'install.sh', sha256: '0'.repeat(64), size: 13, mode: 0o644 }])
    rmSync(out, { recursive: true, force: true })

    prefix = path.join(dir, 'root')
    const installed = spawnSync('dash', [path.join(projectRoot, 'deploy', 'install.sh'), '--prefix', prefix, bundles.v1], { encoding: 'utf8' })
    assert.equal(installed.status, 0, installed.stdout + installed.stderr)
    const port = await freePort()
    url = `mqtt://127.0.0.1:${port}`
    mkdirSync(path.join(dir, 'run'))
    const manifest = path.join(prefix, 'etc/outpost/gateway.json')
    writeFileSync(manifest, JSON.stringify({
      gateway: 'update-test',
      board: 'sim',
      runtimeDir: path.join(dir, 'run'),
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port, anonymous: true }] },
      updates: { keys: [keys.publicKey], healthTimeoutMs: 20_000 },
      modules: [{ name: 'health', entry: 'drivers/system', config: { intervalMs: 60000 } }],
    }))
    service = startService(prefix, manifest)
    await settled('1.0.0')
  }, { timeout: 900_000 })

  after(async () => {
    await service?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a good bundle: the new release runs, its core commits it, and `outpost update --status` says so', { timeout: 300_000 }, async () => {
    const r = await outpost(['update', bundles.v2 ?? ''])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /release 1\.1\.0 installed beside 1\.0\.0; the gateway restarts into it and keeps it if health run within 20 s/)
    const s = await settled('1.1.0')
    assert.deepEqual({ ...s.update.last, at: 0 }, { format: 1, state: 'committed', from: '1.0.0', to: '1.1.0', at: 0, by: 'core 1.1.0', modules: ['health'], healthTimeoutMs: 20_000 })
    assert.equal(readlinkSync(path.join(prefix, 'opt/outpost/current')), 'releases/1.1.0')
    const shown = await outpost(['update', '--status'])
    assert.match(shown.stdout, /^release 1\.1\.0\nlast update: 1\.0\.0 → 1\.1\.0: committed/)
    // the audit log names who asked and where from
    const audit = readFileSync(path.join(prefix, 'etc/outpost/audit.log'), 'utf8').trim().split('\n').map(line => JSON.parse(line) as { op: string, result: string, change?: { url: string } })
    assert.ok(audit.some(a => a.op === 'update' && a.result === 'ok' && /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/outpost-1\.1\.0-linux-x64\.tar\.gz$/.test(a.change?.url ?? '')), JSON.stringify(audit))
  })

  it('refused, nothing changed: another key\'s signature, another target, a module bundle, a corrupt tarball, http:// off the loopback', { timeout: 300_000 }, async () => {
    const before = snapshot()
    const { startedAt } = await settled('1.1.0')
    const refusals: Array<[string, RegExp]> = [
      [bundles.otherKey ?? '', /is signed by ed25519:\S+, which is not among the trusted keys/],
      [bundles.arm ?? '', /the bundle is for linux-arm64; this gateway is linux-x64/],
      [bundles.module ?? '', /the bundle is for module health, a module bundle: install it with outpost update --module/],
      [bundles.corrupt ?? '', /install\.sh does not match its SHA-256 in release\.json/],
      ['http://192.0.2.1/outpost.tar.gz', /an update is downloaded over https:\/\/ \(http:\/\/ only from a loopback address: 127\.0\.0\.0\/8 or \[::1\], not a name\)/],
    ]
    for (const [source, message] of refusals) {
      const r = await outpost(['update', source, ...(source.startsWith('http') ? ['--sig', `${bundles.v3 ?? ''}.sig`] : [])])
      assert.equal(r.code, 1, `${source}: ${r.stdout}`)
      assert.match(r.stderr, message)
    }
    assert.deepEqual(snapshot(), before)
    const after = await settled('1.1.0')
    assert.equal(after.startedAt, startedAt, 'the core did not restart')
  })

  it('a release whose module cannot start: rolled back to the one before, with the reason', { timeout: 300_000 }, async () => {
    const r = await outpost(['update', bundles.broken ?? ''])
    assert.equal(r.code, 0, r.stderr)
    const s = await settled('1.1.0')
    assert.equal(s.update.last?.state, 'rolled-back', JSON.stringify(s.update))
    assert.equal(s.update.last?.to, '1.2.0')
    assert.equal(s.update.last?.by, 'core 1.2.0')
    assert.match(s.update.last?.reason ?? '', /^not every module ran within 20000 ms: health: (backoff|starting) \(last exit: exit-code code 1\)$/)
    assert.match(service.output(), /broken on purpose/)
    const shown = await outpost(['update', '--status'])
    assert.match(shown.stdout, /last update: 1\.1\.0 → 1\.2\.0: rolled-back .*\n {2}reason: not every module ran within 20000 ms/)
  })

  it('a committed update prunes to updates.keep (2) releases: never the running one or the one before', { timeout: 300_000 }, async () => {
    assert.deepEqual(snapshot().releases, ['1.0.0', '1.1.0', '1.2.0'])
    const r = await outpost(['update', bundles.v3 ?? ''])
    assert.equal(r.code, 0, r.stderr)
    await settled('1.3.0')
    // pruned right after the commit
    await poll(async () => (snapshot().releases.join() === '1.1.0,1.3.0' ? true : undefined), 100)
    assert.deepEqual(snapshot().releases, ['1.1.0', '1.3.0'])
  })

  for (const step of UPDATE_STEPS) {
    it(`a SIGKILL at "${step}": the gateway starts on a whole release and reports the outcome`, { timeout: 300_000 }, async () => {
      const from = (await settled(snapshot().current.slice('releases/'.length))).update.release
      const broken = step === 'rollback-written'
      const to = broken ? '1.2.0' : from === '1.1.0' ? '1.3.0' : '1.1.0'
      await service.stop()
      service = startService(prefix, path.join(prefix, 'etc/outpost/gateway.json'), step)
      await settled(from)
      const stateBefore = snapshot().state
      const r = await outpost(['update', bundles[broken ? 'broken' : to === '1.1.0' ? 'v2' : 'v3'] ?? ''])
      const killedBeforeAnswer = ['downloaded', 'verified', 'unpacked', 'trial-written', 'switched'].includes(step)
      if (killedBeforeAnswer) assert.notEqual(r.code, 0, 'the core died before it answered')
      else assert.equal(r.code, 0, r.stderr)
      const expected: Record<string, [string, string | undefined, RegExp?]> = {
        downloaded: [from, undefined],
        verified: [from, undefined],
        unpacked: [from, undefined],
        'trial-written': [from, 'rolled-back', /^the update was cut off before .* was started$/],
        switched: [to, 'committed'],
        healthy: [to, 'committed'],
        'rollback-written': [from, 'rolled-back', /^not every module ran within 20000 ms/],
      }
      const [release, outcome, reason] = expected[step] ?? []
      const s = await settled(release ?? '')
      assert.ok(service.exits.includes('SIGKILL'), `killed at ${step}: ${service.exits.join(' ')}`)
      if (outcome === undefined) {
        // cut before update.json changed: it still holds the previous update's outcome
        assert.equal(snapshot().state, stateBefore)
      } else {
        assert.equal(s.update.last?.state, outcome, JSON.stringify(s.update))
        assert.equal(s.update.last?.to, to)
        if (reason !== undefined) assert.match(s.update.last?.reason ?? '', reason)
      }
      // a whole release: current names a folder with its release.json, and nothing half-made is left under a version's name
      const current = readlinkSync(path.join(prefix, 'opt/outpost/current'))
      assert.equal(current, `releases/${release ?? ''}`)
      assert.ok(existsSync(path.join(prefix, 'opt/outpost', current, 'release.json')))
    })
  }
})
