// issue 12, attacker's pass on the bundle reader: a tarball that tries to write outside its folder, carries
// links or devices, lies about its size, or would fill the disk is refused before or as it is read. The
// hostile tarballs are made with Python's tarfile, which writes what it is told.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { bundleInfo } from '../../core/release/signing.js'
import { MAX_TRAILING_ZERO_BYTES, readTar, unpackTar } from '../../core/release/tar.js'

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

  // review 3a, finding 4: what follows the end marker was read to the end, and copied again with each chunk
  describe('after the end-of-archive marker', () => {
    /** a good tarball (b/release.json) with `after` appended to its tar, gzip'd again */
    const withTail = (name: string, after: Buffer): string => {
      const good = tarball(dir, `${name}-src.tar.gz`, [['b/', 'd'], ['b/release.json', 'f', '{"version":"1.0.0","target":"x"}']])
      const file = path.join(dir, `${name}.tar.gz`)
      writeFileSync(file, gzipSync(Buffer.concat([gunzipSync(readFileSync(good)), after])))
      return file
    }
    const read = (file: string, limits = LIMITS): Promise<string> => readTar(file, limits, () => {}, () => {})

    it('zero padding up to the documented limit is read', async () => {
      assert.equal(await read(withTail('pad-ok', Buffer.alloc(MAX_TRAILING_ZERO_BYTES - 10240))), 'b') // tarfile already pads to 10240
      assert.equal((await bundleInfo(withTail('pad-ok-info', Buffer.alloc(4096)))).version, '1.0.0')
    })
    it('more zeros than that: refused, naming the bundle, without reading the rest', async () => {
      const file = withTail('pad-long', Buffer.alloc(16 * 1024 * 1024)) // a gzip of 16 KiB: the shape of a gzip bomb
      await assert.rejects(read(file, { maxUnpackedBytes: 1024 ** 4, maxEntries: 100 }), { code: 'RELEASE_INVALID', message: new RegExp(`^${file}: more than ${MAX_TRAILING_ZERO_BYTES} bytes follow the tar's end marker`) })
      await assert.rejects(bundleInfo(file), { code: 'RELEASE_INVALID', message: /follow the tar's end marker/ })
    })
    it('anything but zeros: refused', async () => {
      await assert.rejects(read(withTail('pad-junk', Buffer.concat([Buffer.alloc(100), Buffer.from('x')]))), { code: 'RELEASE_INVALID', message: /data follows the tar's end marker/ })
    })
    it('a lone zero block before an entry is refused', async () => {
      const src = gunzipSync(readFileSync(tarball(dir, 'lone-src.tar.gz', [['b/x', 'f', 'x'], ['b/y', 'f', 'y']])))
      const file = path.join(dir, 'lone.tar.gz')
      writeFileSync(file, gzipSync(Buffer.concat([src.subarray(0, 1024), Buffer.alloc(512), src.subarray(1024)])))
      await assert.rejects(read(file), { code: 'RELEASE_INVALID', message: /a lone zero block before entry 2/ })
    })
  })
})
