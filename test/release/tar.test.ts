// issue 12, attacker's pass on the bundle reader: a tarball that tries to write outside its folder, carries
// links or devices, lies about its size, or would fill the disk is refused before or as it is read. The
// hostile tarballs are made with Python's tarfile, which writes what it is told.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { unpackTar } from '../../core/release/tar.js'

const LIMITS = { maxUnpackedBytes: 1024 * 1024, maxEntries: 100 }

/** members: [name, kind, data or link target]; kind f (file, "@big:N" for N bytes), d (dir), l (symlink), h (hard link), c (char device) */
function tarball (dir: string, name: string, members: Array<[string, string, string?]>): string {
  const file = path.join(dir, name)
  const script = `
import io, sys, tarfile, json
members = json.loads(sys.argv[2])
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.USTAR_FORMAT) as t:
    for name, kind, data in members:
        info = tarfile.TarInfo(name)
        if kind == "f":
            raw = b"x" * int(data[5:]) if (data or "").startswith("@big:") else (data or "").encode()
            info.size = len(raw)
            t.addfile(info, io.BytesIO(raw))
            continue
        info.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE, "c": tarfile.CHRTYPE}[kind]
        if kind in "lh": info.linkname = data
        t.addfile(info)
`
  execFileSync('python3', ['-c', script, file, JSON.stringify(members.map(([n, k, d]) => [n, k, d ?? null]))])
  return file
}

describe('bundle reader: hostile tarballs', () => {
  let dir: string
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-tar-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))

  const refused = async (name: string, members: Array<[string, string, string?]>, message: RegExp): Promise<void> => {
    const dest = path.join(dir, `out-${name}`)
    await assert.rejects(unpackTar(tarball(dir, `${name}.tar.gz`, members), dest, LIMITS), { code: 'RELEASE_INVALID', message })
    assert.equal(existsSync(path.join(dir, 'escaped')), false, 'nothing written outside')
  }

  it('a good one unpacks, files only below its folder', async () => {
    const dest = path.join(dir, 'good')
    const top = await unpackTar(tarball(dir, 'good.tar.gz', [['b/', 'd'], ['b/bin/x', 'f', 'hi']]), dest, LIMITS)
    assert.equal(top, 'b')
    assert.deepEqual(readdirSync(dest, { recursive: true }).sort(), ['bin', 'bin/x'])
  })
  it('"../" in a path', () => refused('dotdot', [['b/../../escaped', 'f', 'x']], /entry "b\/\.\.\/\.\.\/escaped" is not a plain relative path/))
  it('an absolute path', () => refused('absolute', [['/tmp/escaped', 'f', 'x']], /is not a plain relative path/))
  it('a symbolic link (even one pointing inside)', () => refused('symlink', [['b/', 'd'], ['b/link', 'l', '../../escaped'], ['b/link/x', 'f', 'x']], /entry "b\/link" is a symbolic link; a bundle holds only files and folders/))
  it('a hard link', () => refused('hardlink', [['b/h', 'h', '/etc/passwd']], /is a hard link/))
  it('a device', () => refused('device', [['b/tty', 'c']], /is a character device/))
  it('a second top folder', () => refused('two', [['b/x', 'f', 'x'], ['c/y', 'f', 'y']], /lies outside the bundle's folder b\//))
  it('more than the unpacked limit', () => refused('big', [['b/x', 'f', `@big:${LIMITS.maxUnpackedBytes + 1}`]], /unpacks to more than 1048576 bytes/))
  it('truncated or not a tar at all', async () => {
    const good = tarball(dir, 'cut-src.tar.gz', [['b/x', 'f', '@big:100000']])
    const cut = path.join(dir, 'cut.tar.gz')
    execFileSync('sh', ['-c', `gzip -dc ${good} | head -c 50000 | gzip > ${cut}`])
    await assert.rejects(unpackTar(cut, path.join(dir, 'out-cut'), LIMITS), { code: 'RELEASE_INVALID', message: /ends early/ })
    const junk = path.join(dir, 'junk.tar.gz')
    writeFileSync(junk, 'not gzip')
    await assert.rejects(unpackTar(junk, path.join(dir, 'out-junk'), LIMITS), { code: 'RELEASE_INVALID', message: /not a gzip'd tar/ })
  })
})
