// issue 12, install.sh and the systemd unit: install a bundle into a prefix twice (the second run changes
// nothing), then a second version (current moves, the first stays, the manifest is kept), a damaged bundle
// refused, and the unit checked by systemd-analyze verify. The bundle is a small one in the release layout
// (bin/outpost a shell script): install.sh handles files, not what they run; bundle.test.ts runs real ones.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { RELEASE_FILE, SUMS_FILE, listFiles, sumsText } from '../../core/release/contents.js'
import { projectRoot } from '../../release/build.js'

const INSTALL = path.join(projectRoot, 'deploy', 'install.sh')

/** a bundle tarball shaped as release/build.ts makes them, with the real deploy/ files */
function makeBundle (dir: string, version: string): string {
  const top = `outpost-${version}-linux-x64`
  const src = path.join(dir, `src-${version}`, top)
  mkdirSync(path.join(src, 'bin'), { recursive: true })
  writeFileSync(path.join(src, 'bin', 'outpost'), `#!/bin/sh\necho outpost ${version}\n`, { mode: 0o755 })
  cpSync(path.join(projectRoot, 'deploy'), src, { recursive: true })
  writeFileSync(path.join(src, SUMS_FILE), sumsText(listFiles(src)))
  writeFileSync(path.join(src, RELEASE_FILE), JSON.stringify({ format: 1, name: 'outpost', version, commit: '0'.repeat(40), dirty: false, target: 'linux-x64', node: { version: '24.21.0', package: 'x', integrity: '' }, files: listFiles(src) }, null, 2) + '\n')
  const file = path.join(dir, `${top}.tar.gz`)
  execFileSync('tar', ['--format=ustar', '-czf', file, '-C', path.dirname(src), top])
  return file
}

/** run with dash, Debian's /bin/sh, which has no bash extensions */
function install (args: string[]): { code: number | null, out: string } {
  const r = spawnSync('dash', [INSTALL, ...args], { encoding: 'utf8' })
  return { code: r.status, out: r.stdout + r.stderr }
}

function tree (root: string): string[] {
  const out: string[] = []
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const p = path.join(rel, name)
      const st = lstatSync(path.join(root, p))
      out.push(`${p} ${st.isSymbolicLink() ? `-> ${readlinkSync(path.join(root, p))}` : st.isDirectory() ? 'dir' : `${st.size} ${(st.mode & 0o777).toString(8)} ${st.mtimeMs}`}`)
      if (st.isDirectory()) walk(p)
    }
  }
  walk('')
  return out
}

describe('install.sh', () => {
  let dir: string
  let prefix: string
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-install-'))
    prefix = path.join(dir, 'root')
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('installs a bundle into a prefix, and a second run changes nothing', () => {
    const bundle = makeBundle(dir, '1.0.0')
    const first = install(['--prefix', prefix, bundle])
    assert.equal(first.code, 0, first.out)
    assert.match(first.out, /--prefix given: no outpost user created/)
    assert.equal(readlinkSync(path.join(prefix, 'opt/outpost/current')), 'releases/1.0.0')
    assert.equal(execFileSync(path.join(prefix, 'opt/outpost/current/bin/outpost'), { encoding: 'utf8' }), 'outpost 1.0.0\n')
    assert.deepEqual(JSON.parse(readFileSync(path.join(prefix, 'etc/outpost/gateway.json'), 'utf8')), JSON.parse(readFileSync(path.join(projectRoot, 'deploy/default-gateway.json'), 'utf8')))
    assert.equal(readFileSync(path.join(prefix, 'etc/systemd/system/outpost.service'), 'utf8'), readFileSync(path.join(projectRoot, 'deploy/outpost.service'), 'utf8'))
    assert.equal(statSync(path.join(prefix, 'etc/outpost')).mode & 0o777, 0o750)
    assert.ok(statSync(path.join(prefix, 'var/lib/outpost')).isDirectory())
    const before = tree(prefix).filter(line => !line.startsWith('etc/systemd/system/outpost.service ') && !line.startsWith('opt/outpost/current '))
    const second = install(['--prefix', prefix, bundle])
    assert.equal(second.code, 0, second.out)
    assert.match(second.out, /release 1\.0\.0 is already in/)
    assert.match(second.out, /keeping the manifest/)
    assert.deepEqual(tree(prefix).filter(line => !line.startsWith('etc/systemd/system/outpost.service ') && !line.startsWith('opt/outpost/current ')), before)
    assert.equal(readlinkSync(path.join(prefix, 'opt/outpost/current')), 'releases/1.0.0')
    assert.deepEqual(readdirSync(path.join(prefix, 'opt/outpost')).sort(), ['bin', 'current', 'releases'], 'no temporary files left')
    assert.equal(readFileSync(path.join(prefix, 'opt/outpost/bin/outpost-boot'), 'utf8'), readFileSync(path.join(projectRoot, 'deploy/outpost-boot'), 'utf8'))
  })

  it('a second version: current moves to it, the first stays, the operator\'s manifest is kept', () => {
    const manifest = path.join(prefix, 'etc/outpost/gateway.json')
    writeFileSync(manifest, '{"gateway":"mine"}')
    const r = install(['--prefix', prefix, makeBundle(dir, '1.1.0')])
    assert.equal(r.code, 0, r.out)
    assert.equal(readlinkSync(path.join(prefix, 'opt/outpost/current')), 'releases/1.1.0')
    assert.deepEqual(readdirSync(path.join(prefix, 'opt/outpost/releases')).sort(), ['1.0.0', '1.1.0'])
    assert.equal(readFileSync(manifest, 'utf8'), '{"gateway":"mine"}')
  })

  it('a damaged bundle is refused and nothing changes', () => {
    const bundle = makeBundle(dir, '1.2.0')
    const unpacked = path.join(dir, 'damaged')
    mkdirSync(unpacked)
    execFileSync('tar', ['-xzf', bundle, '-C', unpacked])
    writeFileSync(path.join(unpacked, 'outpost-1.2.0-linux-x64', 'bin', 'outpost'), '#!/bin/sh\necho evil\n')
    const damaged = path.join(dir, 'damaged.tar.gz')
    execFileSync('tar', ['-czf', damaged, '-C', unpacked, 'outpost-1.2.0-linux-x64'])
    const before = tree(prefix)
    const r = install(['--prefix', prefix, damaged])
    assert.equal(r.code, 1)
    assert.match(r.out, /do not match SHA256SUMS: the bundle is damaged/)
    assert.deepEqual(tree(prefix), before)
    const notTar = path.join(dir, 'not.tar.gz')
    writeFileSync(notTar, 'hello')
    assert.match(install(['--prefix', prefix, notTar]).out, /is not a readable gzip'd tar/)
    assert.deepEqual(tree(prefix), before)
  })

  it('the unit passes systemd-analyze verify', { skip: existsSync('/usr/bin/systemd-analyze') ? false : 'needs systemd-analyze (Debian package systemd)' }, () => {
    // verify checks that ExecStart is executable: a copy of the installed unit points it into the prefix
    // (--root would need a whole systemd tree there); every other line is verified as installed
    const installed = readFileSync(path.join(prefix, 'etc/systemd/system/outpost.service'), 'utf8')
    assert.match(installed, /^ExecStart=\/opt\/outpost\/bin\/outpost-boot \/etc\/outpost\/gateway\.json$/m)
    const unit = path.join(dir, 'outpost.service')
    writeFileSync(unit, installed.replace('ExecStart=/opt/outpost/', `ExecStart=${prefix}/opt/outpost/`))
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    // unknown keys and bad values are only warnings (exit 0): there must be none
    assert.equal(r.stderr.trim(), '', 'no warning about the unit')
  })
})
