// Signed releases (docs/deploy.md, "Signing keys"): Ed25519 through node:crypto. A signature is a small
// JSON file beside the bundle (<bundle>.sig) over the bundle's SHA-256, version and target, so a gateway
// checks who made a bundle, and for which board (or, `module:<name>`, for which module: module-bundle.ts),
// before it unpacks a single byte.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { createReadStream, readFileSync } from 'node:fs'
import { OutpostError } from '../errors.js'
import { RELEASE_FILE, VERSION_PATTERN } from './contents.js'
import type { ReleaseInfo } from './contents.js'
import { readTar } from './tar.js'

/** how a public key is written in a manifest: "ed25519:" and the 32-byte key in base64 */
export const PUBLIC_KEY_PATTERN = /^ed25519:[A-Za-z0-9+/]{43}=$/

export interface Signature {
  format: 1
  /** the signer's public key, as the manifest lists it */
  key: string
  sha256: string
  version: string
  target: string
  /** Ed25519 over signedText(…), base64 */
  signature: string
}

/** what is signed: bound to this format, so a signature cannot be read as anything else */
function signedText (s: Pick<Signature, 'sha256' | 'version' | 'target'>): Buffer {
  return Buffer.from(`outpost-release-signature-v1\n${s.sha256}\n${s.version}\n${s.target}\n`)
}

export function generateKeys (): { privatePem: string, publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: publicKeyText(publicKey) }
}

function publicKeyText (key: KeyObject): string {
  const x = key.export({ format: 'jwk' }).x ?? ''
  return `ed25519:${Buffer.from(x, 'base64url').toString('base64')}`
}

export function publicKeyObject (text: string): KeyObject {
  if (!PUBLIC_KEY_PATTERN.test(text)) throw new OutpostError('RELEASE_SIGNATURE', `"${text.slice(0, 80)}" is not a public key (ed25519:<base64 of 32 bytes>, as outpost keygen prints)`)
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(text.slice('ed25519:'.length), 'base64').toString('base64url') }, format: 'jwk' })
}

export function sha256OfFile (file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file).on('data', chunk => hash.update(chunk)).once('error', reject).once('end', () => resolve(hash.digest('hex')))
  })
}

/**
 * The most of release.json `bundleInfo` holds: it lists every file of the release (a path, a hash, a size and
 * a mode each), about 200 bytes per entry of the 100,000 a bundle may have. Before any check, so bounded.
 */
export const MAX_RELEASE_FILE_BYTES = 32 * 1024 * 1024

/** version and target from the bundle's own release.json, read from the tarball */
export async function bundleInfo (bundle: string, limits = { maxUnpackedBytes: 4 * 1024 ** 3, maxEntries: 100_000 }): Promise<ReleaseInfo> {
  let collecting = false
  const parts: Buffer[] = []
  await readTar(bundle, limits, entry => {
    collecting = entry.path === RELEASE_FILE
    if (collecting && entry.size > MAX_RELEASE_FILE_BYTES) throw new OutpostError('RELEASE_INVALID', `${bundle}: its ${RELEASE_FILE} is ${entry.size} bytes, more than ${MAX_RELEASE_FILE_BYTES}`)
  }, chunk => { if (collecting) parts.push(chunk) })
  if (parts.length === 0) throw new OutpostError('RELEASE_INVALID', `${bundle}: no ${RELEASE_FILE} in it`)
  let info: ReleaseInfo | null
  try {
    info = JSON.parse(Buffer.concat(parts).toString('utf8')) as ReleaseInfo | null
  } catch {
    throw new OutpostError('RELEASE_INVALID', `${bundle}: its ${RELEASE_FILE} is not JSON`)
  }
  if (info === null || typeof info !== 'object' || typeof info.version !== 'string' || !VERSION_PATTERN.test(info.version) || typeof info.target !== 'string') throw new OutpostError('RELEASE_INVALID', `${bundle}: its ${RELEASE_FILE} names no valid version and target`)
  return info
}

/** signs `bundle` for the version and target its own release.json names (a release's, or a module bundle's) */
export async function signBundle (bundle: string, privatePem: string): Promise<Signature> {
  signingKey(privatePem)
  const info = await bundleInfo(bundle)
  return await signFile(bundle, privatePem, { version: info.version, target: info.target })
}

/** signs `file` as `version` for `target`, whatever it holds: the tests sign hostile bundles the gateway must refuse */
export async function signFile (file: string, privatePem: string, what: { version: string, target: string }): Promise<Signature> {
  const key = signingKey(privatePem)
  const body = { sha256: await sha256OfFile(file), version: what.version, target: what.target }
  return { format: 1, key: publicKeyText(createPublicKey(key)), ...body, signature: sign(null, signedText(body), key).toString('base64') }
}

function signingKey (privatePem: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(privatePem)
  } catch (err) {
    throw new OutpostError('RELEASE_SIGNATURE', `not a private key: ${(err as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new OutpostError('RELEASE_SIGNATURE', `the key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519 (make one with outpost keygen)`)
  return key
}

export function readSignature (file: string): Signature {
  let sig: unknown
  try {
    sig = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new OutpostError('RELEASE_SIGNATURE', `no readable signature ${file}: ${(err as Error).message}`)
  }
  return checkSignature(sig, file)
}

/** `value` as a signature, or RELEASE_SIGNATURE naming `where` it came from */
export function checkSignature (value: unknown, where: string): Signature {
  const sig = (value ?? {}) as Signature
  if (sig.format !== 1 || typeof sig.key !== 'string' || typeof sig.sha256 !== 'string' || typeof sig.signature !== 'string' || typeof sig.version !== 'string' || typeof sig.target !== 'string') {
    throw new OutpostError('RELEASE_SIGNATURE', `${where} is not an Outpost release signature`)
  }
  // the version names a folder under releases/
  if (!VERSION_PATTERN.test(sig.version)) throw new OutpostError('RELEASE_SIGNATURE', `${where} names no valid version`)
  return sig
}

/**
 * Checks that `sig` is a valid signature of `bundle` by one of `trusted` keys; returns the signed version
 * and target. Nothing of the bundle is unpacked.
 */
export async function verifyBundle (bundle: string, sig: Signature, trusted: readonly string[]): Promise<{ version: string, target: string, key: string }> {
  if (trusted.length === 0) throw new OutpostError('RELEASE_SIGNATURE', 'no signing key is trusted (the manifest\'s updates.keys is empty): add the public key outpost keygen printed')
  if (!trusted.includes(sig.key)) throw new OutpostError('RELEASE_SIGNATURE', `${bundle} is signed by ${sig.key}, which is not among the trusted keys`)
  if (!verify(null, signedText(sig), publicKeyObject(sig.key), Buffer.from(sig.signature, 'base64'))) throw new OutpostError('RELEASE_SIGNATURE', `${bundle}: the signature does not verify (changed after signing?)`)
  if (await sha256OfFile(bundle) !== sig.sha256) throw new OutpostError('RELEASE_SIGNATURE', `${bundle} is not the file that was signed (its SHA-256 differs)`)
  return { version: sig.version, target: sig.target, key: sig.key }
}
