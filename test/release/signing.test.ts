// issue 12, signing: Ed25519 keys from `outpost keygen`, `outpost release sign/verify`, and what a bundle
// must carry to be trusted. The bundles here are small hand-made tarballs in the release layout: what is
// checked (the signature over the file's SHA-256, version and target) does not depend on the contents.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generateKeys, readSignature, signBundle, verifyBundle } from '../../core/release/signing.js'

const MAIN = fileURLToPath(new URL('../../core/cli/main.js', import.meta.url))

function outpost (args: string[], cwd: string): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** a tarball shaped like a bundle: one top folder with release.json */
export function makeBundle (dir: string, info: { version: string, target: string }, extra: Record<string, string> = {}): string {
  const top = `outpost-${info.version}-${info.target}`
  const src = path.join(dir, 'src', top)
  mkdirSync(src, { recursive: true })
  writeFileSync(path.join(src, 'release.json'), JSON.stringify({ format: 1, name: 'outpost', ...info, commit: '0'.repeat(40), dirty: false, node: { version: '24.21.0', package: 'x', integrity: '' }, files: [] }))
  for (const [name, text] of Object.entries(extra)) writeFileSync(path.join(src, name), text)
  const file = path.join(dir, `${top}.tar.gz`)
  execFileSync('tar', ['--format=ustar', '-czf', file, '-C', path.join(dir, 'src'), top])
  return file
}

describe('release signing', () => {
  let dir: string
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-sign-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('outpost keygen writes a private key only its owner reads, and never overwrites one', () => {
    const r = outpost(['keygen', 'ops'], dir)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^ed25519:[A-Za-z0-9+/]{43}=\n$/)
    assert.equal(readFileSync(path.join(dir, 'ops.pub'), 'utf8'), r.stdout)
    assert.equal(statSync(path.join(dir, 'ops.key')).mode & 0o777, 0o600)
    const again = outpost(['keygen', 'ops'], dir)
    assert.equal(again.code, 2)
    assert.match(again.stderr, /ops\.key exists: keygen never overwrites a key/)
  })

  it('outpost release sign, then verify with the key, with a manifest that lists it, and not with another', () => {
    const bundle = makeBundle(dir, { version: '1.0.0', target: 'linux-arm64' })
    const signed = outpost(['release', 'sign', bundle, '--key', 'ops.key'], dir)
    assert.equal(signed.code, 0, signed.stderr)
    assert.equal(readSignature(`${bundle}.sig`).version, '1.0.0')
    const pub = readFileSync(path.join(dir, 'ops.pub'), 'utf8').trim()
    assert.equal(outpost(['release', 'verify', bundle, '--key', 'ops.pub'], dir).code, 0)
    const manifest = path.join(dir, 'gateway.json')
    writeFileSync(manifest, JSON.stringify({ gateway: 'g', board: 'sim', updates: { keys: [pub] } }))
    const viaManifest = outpost(['release', 'verify', bundle, '--manifest', manifest], dir)
    assert.equal(viaManifest.code, 0, viaManifest.stderr)
    assert.match(viaManifest.stdout, /1\.0\.0 for linux-arm64, signed by ed25519:/)
    writeFileSync(manifest, JSON.stringify({ gateway: 'g', board: 'sim', updates: { keys: [generateKeys().publicKey] } }))
    const other = outpost(['release', 'verify', bundle, '--manifest', manifest], dir)
    assert.equal(other.code, 1)
    assert.match(other.stderr, /which is not among the trusted keys/)
  })

  it('a manifest refuses a key that is not an Ed25519 public key', () => {
    const manifest = path.join(dir, 'bad.json')
    writeFileSync(manifest, JSON.stringify({ gateway: 'g', board: 'sim', updates: { keys: ['ssh-rsa AAAA'] } }))
    const r = outpost(['release', 'verify', 'x.tar.gz', '--manifest', manifest], dir)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /updates\.keys\[0\]: a public key as outpost keygen prints it/)
  })

  it('refused: no trusted key, a changed bundle, a changed version or target, a forged signature', async () => {
    const keys = generateKeys()
    const bundle = makeBundle(dir, { version: '2.0.0', target: 'linux-x64' })
    const sig = await signBundle(bundle, keys.privatePem)
    assert.deepEqual(await verifyBundle(bundle, sig, [keys.publicKey]), { version: '2.0.0', target: 'linux-x64', key: keys.publicKey })
    await assert.rejects(verifyBundle(bundle, sig, []), { code: 'RELEASE_SIGNATURE', message: /no signing key is trusted/ })
    await assert.rejects(verifyBundle(bundle, { ...sig, target: 'linux-arm64' }, [keys.publicKey]), { code: 'RELEASE_SIGNATURE', message: /does not verify/ })
    await assert.rejects(verifyBundle(bundle, { ...sig, version: '9.9.9' }, [keys.publicKey]), { code: 'RELEASE_SIGNATURE', message: /does not verify/ })
    // another key's signature presented under the trusted key's name
    const forged = await signBundle(bundle, generateKeys().privatePem)
    await assert.rejects(verifyBundle(bundle, { ...forged, key: keys.publicKey }, [keys.publicKey]), { code: 'RELEASE_SIGNATURE', message: /does not verify/ })
    // one byte of the bundle changed after signing
    const bytes = readFileSync(bundle)
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 1
    writeFileSync(bundle, bytes)
    await assert.rejects(verifyBundle(bundle, sig, [keys.publicKey]), { code: 'RELEASE_SIGNATURE', message: /not the file that was signed/ })
  })

  it('sign refuses a key that is not Ed25519', async () => {
    const bundle = makeBundle(dir, { version: '3.0.0', target: 'linux-x64' })
    const rsa = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], { encoding: 'utf8' })
    await assert.rejects(signBundle(bundle, rsa), { code: 'RELEASE_SIGNATURE', message: /the key is rsa, not ed25519/ })
  })
})
