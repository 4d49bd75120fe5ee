// issue 12, release bundle: what `npm run release` puts in each target's tarball, checked from the outside
// (system tar, sha256sum, ELF headers), and the x64 bundle's gateway started as it would run on a board.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { readReleaseInfo, verifyContents } from '../../core/release/contents.js'
import { projectRoot } from '../../release/build.js'
import type { BuildResult } from '../../release/build.js'
import { checkElf, provideNode, readElf, releaseVersionOf } from '../../release/node-binary.js'
import { connectOperator } from '../helpers/gateway.js'
import { poll } from '../helpers/wait.js'
import { build, built, cacheDir, runBundle, target, unpack } from './bundles.js'

const lock = JSON.parse(readFileSync(path.join(projectRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string, devDependencies: Record<string, string> }

function walk (dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap(e => (e.isDirectory() ? walk(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]))
}

describe('release bundles', () => {
  let out: string
  let results: BuildResult[]
  const folders = new Map<string, string>()

  before(async () => {
    ({ out, results } = await build(['linux-arm64', 'linux-armv7l', 'linux-x64']))
    for (const name of ['linux-arm64', 'linux-x64']) folders.set(name, unpack(built(results, name).file))
  })
  after(() => {
    rmSync(out, { recursive: true, force: true })
    for (const folder of folders.values()) rmSync(path.dirname(folder), { recursive: true, force: true })
  })

  for (const name of ['linux-arm64', 'linux-x64']) {
    it(`${name}: release.json lists every file with its SHA-256, the version and the git commit`, () => {
      const folder = folders.get(name) ?? ''
      const info = verifyContents(folder)
      assert.equal(info.target, name)
      assert.equal(info.version, pkg.version)
      assert.equal(info.commit, execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim())
      assert.equal(info.node.version, pkg.devDependencies.node)
      assert.deepEqual(new Set(info.files.map(f => f.path)), new Set(walk(folder).filter(f => f !== 'release.json')))
      // the same list checked by a tool that is not ours, as install.sh does
      execFileSync('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], { cwd: folder })
      // and a changed byte is found
      const victim = path.join(folder, 'app', 'package.json')
      const original = readFileSync(victim)
      writeFileSync(victim, Buffer.concat([original, Buffer.from(' ')]))
      assert.throws(() => verifyContents(folder), /app\/package\.json does not match its SHA-256/)
      writeFileSync(victim, original)
    })

    it(`${name}: production dependencies only, and only this target's addons (ELF e_machine ${target(name).elfMachine})`, () => {
      const folder = folders.get(name) ?? ''
      const t = target(name)
      for (const [lockPath, entry] of Object.entries(lock.packages)) {
        if (entry.dev === true) assert.equal(existsSync(path.join(folder, 'app', lockPath)), false, `${lockPath} is a devDependency`)
      }
      for (const dev of Object.keys(pkg.devDependencies)) assert.equal(existsSync(path.join(folder, 'app', 'node_modules', dev)), false, dev)
      assert.equal(existsSync(path.join(folder, 'app', 'build', 'test')), false, 'no compiled tests')
      assert.equal(existsSync(path.join(folder, 'app', 'build', 'bench')), false, 'no benchmarks')
      assert.equal(existsSync(path.join(folder, 'app', 'build', 'release')), false, 'no release builder')
      for (const file of ['install.sh', 'outpost.service', 'default-gateway.json', 'bin/outpost']) assert.ok(existsSync(path.join(folder, file)), file)
      checkElf(path.join(folder, 'bin', 'node'), t, 'bin/node')
      const addons = walk(folder).filter(f => f.endsWith('.node'))
      assert.ok(addons.includes(`app/node_modules/@serialport/bindings-cpp/prebuilds/${t.prebuilds.dir}/${name === 'linux-x64' ? '@serialport+bindings-cpp.glibc.node' : '@serialport+bindings-cpp.armv8.glibc.node'}`), addons.join(' '))
      assert.ok(addons.some(f => f.startsWith(`app/node_modules/@cbor-extract/cbor-extract-linux-${t.npmCpu}/`)), addons.join(' '))
      for (const addon of addons) {
        const elf = readElf(path.join(folder, addon))
        assert.deepEqual(elf, { machine: t.elfMachine, class: t.elfClass }, addon)
      }
      // nothing compiled on the build machine travels: node-gyp-build would prefer build/ over prebuilds/
      assert.equal(addons.some(f => f.includes('/build/Release/')), false)
    })
  }

  it('linux-armv7l: not built without a Node 24 for it, and says how to give one', () => {
    const r = results.find(x => x.target === 'linux-armv7l')
    assert.ok(r !== undefined && 'error' in r)
    assert.match(r.error, /no Node 24\.\d+\.\d+ for it from the npm registry.*--node linux-armv7l=/)
  })

  it('a node binary given for a target must be built for its machine', () => {
    const x64Node = path.join(folders.get('linux-x64') ?? '', 'bin', 'node')
    assert.throws(() => provideNode(target('linux-armv7l'), pkg.devDependencies.node ?? '', path.join(out, 'node'), { cacheDir, given: x64Node }),
      /built for ELF machine 62, class 2; linux-armv7l needs machine 40, class 1/)
  })

  it('a node binary given for a target must be the Node version the release pins', () => {
    const x64Node = path.join(folders.get('linux-x64') ?? '', 'bin', 'node')
    const pinned = pkg.devDependencies.node ?? ''
    assert.equal(releaseVersionOf(x64Node), pinned)
    const dest = path.join(out, 'node-given')
    assert.equal(provideNode(target('linux-x64'), pinned, dest, { cacheDir, given: x64Node }).version, pinned)
    assert.throws(() => provideNode(target('linux-x64'), '24.0.0', dest, { cacheDir, given: x64Node }),
      new RegExp(`is Node ${pinned.replaceAll('.', '\\.')}; the release pins Node 24\\.0\\.0`))
    // an ELF of the right machine that is no Node.js release at all
    assert.throws(() => provideNode(target('linux-x64'), pinned, dest, { cacheDir, given: '/bin/true' }), /names no Node\.js release in it/)
  })

  it('linux-x64: the bundle\'s own outpost runs a gateway on the sim board that answers core.list', async () => {
    const folder = folders.get('linux-x64') ?? ''
    assert.equal(readReleaseInfo(folder).target, 'linux-x64')
    const gw = await runBundle(folder, {
      argv: [path.join(folder, 'bin', 'outpost')],
      modules: [{ name: 'health', entry: 'drivers/system', config: { intervalMs: 60000 } }],
      startMs: 30_000,
    })
    try {
      const op = await connectOperator(gw.url)
      try {
        const list = await poll(async () => {
          const reply = await op.call('core', 'list')
          const modules = reply.result as Array<{ module: string, state: string }>
          return modules.find(m => m.module === 'health')?.state === 'running' ? modules : undefined
        }, 200)
        assert.equal(list.length, 1)
      } finally {
        await op.end()
      }
      // the running core is the bundle's node, not the one running the tests
      assert.match(gw.output(), /started health\.0/)
    } finally {
      assert.equal(await gw.stop(), 0, gw.output())
    }
  })

  // Debian's qemu-user-static runs the arm64 bundle on this machine; .ci/run installs it with the arm64 C
  // libraries (libc6-arm64-cross, libstdc++6-arm64-cross). A container has no binfmt handler, so the test
  // runs the bundle's node through qemu itself, and points process.execPath (which the core spawns for its
  // manifest checker and modules) at a script that does the same: what binfmt_misc would do on a real host.
  // Emulation is slow (the core, the checker and one module each start a node under qemu), hence the long
  // but bounded waits.
  const QEMU = '/usr/bin/qemu-aarch64-static'
  const SYSROOT = '/usr/aarch64-linux-gnu'
  const noQemu = existsSync(QEMU) && existsSync(SYSROOT) ? false : `needs ${QEMU} and ${SYSROOT} (apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross)`

  it('linux-arm64 under qemu: its node runs, its serialport and cbor-extract addons load', { skip: noQemu, timeout: 120_000 }, () => {
    const folder = folders.get('linux-arm64') ?? ''
    const script = [
      // open() is the addon's own code (list() would only run udevadm): a missing device is its error
      "const { autoDetect } = await import('@serialport/bindings-cpp')",
      "const open = await autoDetect().open({ path: '/dev/outpost-no-such-tty', baudRate: 9600 }).then(() => 'opened', err => err.message)",
      "const extract = (await import('cbor-extract')).default.extractStrings",
      'console.log(JSON.stringify({ arch: process.arch, version: process.version, open, extract: typeof extract }))',
    ].join('\n')
    const stdout = execFileSync(QEMU, ['-L', SYSROOT, path.join(folder, 'bin', 'node'), '--input-type=module', '-e', script], { cwd: path.join(folder, 'app'), encoding: 'utf8', timeout: 100_000 })
    const seen = JSON.parse(stdout) as Record<string, string>
    assert.match(seen.open ?? '', /No such file or directory, cannot open \/dev\/outpost-no-such-tty/)
    assert.deepEqual({ ...seen, open: undefined }, { arch: 'arm64', version: `v${pkg.devDependencies.node}`, open: undefined, extract: 'function' })
  })

  it('linux-arm64 under qemu: the gateway starts on the sim board and answers core.list', { skip: noQemu, timeout: 300_000 }, async () => {
    const folder = folders.get('linux-arm64') ?? ''
    const shim = mkdtempSync(path.join(os.tmpdir(), 'outpost-qemu-'))
    const node = path.join(shim, 'node')
    writeFileSync(node, `#!/bin/sh\nexec ${QEMU} -L ${SYSROOT} ${path.join(folder, 'bin', 'node')} "$@"\n`, { mode: 0o755 })
    const preload = path.join(shim, 'exec-path.mjs')
    writeFileSync(preload, `process.execPath = ${JSON.stringify(node)}\n`)
    const gw = await runBundle(folder, {
      argv: [node, '--import', pathToFileURL(preload).href, path.join(folder, 'app', 'build', 'core', 'cli', 'main.js')],
      // qemu's translated code counts as the module's private memory (≈ 70 MiB): a budget fit for emulation
      modules: [{ name: 'health', entry: 'drivers/system', memoryMiB: 256, config: { intervalMs: 60000 } }],
      startMs: 150_000,
    })
    try {
      const op = await connectOperator(gw.url)
      try {
        const reply = await poll(async () => {
          const r = await op.call('core', 'list', null, 20_000)
          return (r.result as Array<{ module: string, state: string }>).find(m => m.module === 'health')?.state === 'running' ? r : undefined
        }, 120, 500)
        assert.equal((reply.result as unknown[]).length, 1)
      } finally {
        await op.end()
      }
    } finally {
      assert.equal(await gw.stop(), 0, gw.output())
      rmSync(shim, { recursive: true, force: true })
    }
  })
})
