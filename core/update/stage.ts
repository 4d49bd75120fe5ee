// An update up to the restart (docs/deploy.md, "Updates"): download, verify the signature and the target,
// unpack beside the running release and check every file against release.json, then write the trial
// state and switch `current`. Each step leaves the gateway bootable: until update.json says "trial" nothing
// the launcher reads has changed, and from then on outpost-boot finishes or undoes the update.
import fs from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { verifyContents } from '../release/contents.js'
import { describeTarget, MODULE_TARGET_PREFIX } from '../release/module-bundle.js'
import { checkSignature, verifyBundle } from '../release/signing.js'
import type { Signature } from '../release/signing.js'
import { unpackTar } from '../release/tar.js'
import { hostTarget } from '../release/targets.js'
import { checkUrl, download, DOWNLOAD_TIMEOUT_MS, MAX_SIGNATURE_BYTES, SIGNATURE_TIMEOUT_MS } from './download.js'
import { clearBoots, commitFolder, currentRelease, readState, releasesDir, switchCurrent, writeState } from './install.js'
import type { Install } from './install.js'
import { checkpoint } from './checkpoint.js'

export interface StageOptions {
  install: Install
  url: string
  /** the signature, or undefined to download it from `<url>.sig` */
  signature: unknown
  trusted: readonly string[]
  maxBundleBytes: number
  healthTimeoutMs: number
  /** the modules running now: the new release must have each running again */
  modules: string[]
  /** who asked, for update.json */
  by: string
}

/**
 * Downloads the bundle at `url` into `staging` (a folder of its own) and checks its signature by a
 * `trusted` key. `accept` sees the signature first and throws for a version or target that cannot be
 * installed, so such a bundle is refused before it is downloaded. Returns the bundle's file and what its
 * signature says.
 */
export async function fetchBundle (o: { url: string, signature: unknown, staging: string, trusted: readonly string[], maxBundleBytes: number, accept: (signature: Signature) => void }): Promise<{ bundle: string, version: string, target: string }> {
  const url = checkUrl(o.url)
  const bundle = path.join(o.staging, 'bundle.tar.gz')
  let signature: Signature
  if (o.signature === undefined) {
    const sigFile = `${bundle}.sig`
    await download(new URL(`${url.href}.sig`), sigFile, MAX_SIGNATURE_BYTES, SIGNATURE_TIMEOUT_MS)
    let parsed: unknown
    try {
      parsed = JSON.parse(await fs.promises.readFile(sigFile, 'utf8'))
    } catch {
      throw new OutpostError('RELEASE_SIGNATURE', `${url.origin}${url.pathname}.sig is not JSON`)
    }
    signature = checkSignature(parsed, `${url.origin}${url.pathname}.sig`)
  } else {
    signature = checkSignature(o.signature, 'the signature given')
  }
  o.accept(signature)
  await download(url, bundle, o.maxBundleBytes, DOWNLOAD_TIMEOUT_MS)
  checkpoint('downloaded')
  const { version, target } = await verifyBundle(bundle, signature, o.trusted)
  checkpoint('verified')
  return { bundle, version, target }
}

export async function stageUpdate (o: StageOptions): Promise<{ from: string, to: string }> {
  const from = currentRelease(o.install)
  const pending = readState(o.install)
  if (pending?.state === 'trial') throw new OutpostError('CONFLICT', `release ${pending.to} is still on trial (update from ${pending.from}): wait until it is committed or rolled back`)
  checkUrl(o.url)
  const staging = path.join(o.install.base, '.staging')
  await fs.promises.rm(staging, { recursive: true, force: true })
  await fs.promises.mkdir(staging, { mode: 0o700 })
  try {
    const { bundle, version, target } = await fetchBundle({
      ...o,
      staging,
      // the signature names version and target: refuse what cannot be installed before downloading it
      accept (signature) {
        const here = hostTarget()?.name
        if (signature.target.startsWith(MODULE_TARGET_PREFIX)) throw new OutpostError('RELEASE_TARGET', `the bundle is for ${describeTarget(signature.target)}, a module bundle: install it with outpost update --module`)
        if (signature.target !== here) throw new OutpostError('RELEASE_TARGET', `the bundle is for ${signature.target}; this gateway is ${here ?? `${process.platform}-${process.arch}, not a release target`}`)
        if (signature.version === from) throw new OutpostError('CONFLICT', `release ${from} is already running`)
      },
    })

    const dest = path.join(releasesDir(o.install), version)
    const partial = path.join(releasesDir(o.install), `.${version}.partial`)
    await fs.promises.rm(partial, { recursive: true, force: true })
    try {
      await unpackTar(bundle, partial, { maxUnpackedBytes: 4 * o.maxBundleBytes, maxEntries: 100_000 })
      const info = verifyContents(partial)
      if (info.version !== version || info.target !== target) throw new OutpostError('RELEASE_INVALID', `the bundle's release.json says ${info.version} for ${info.target}, its signature ${version} for ${target}`)
    } catch (err) {
      await fs.promises.rm(partial, { recursive: true, force: true })
      throw err
    }
    // a release of the same name that is not running (an older copy, one rolled back) is replaced
    await fs.promises.rm(dest, { recursive: true, force: true })
    await commitFolder(partial, dest)
    checkpoint('unpacked')

    await clearBoots(o.install)
    await writeState(o.install, { format: 1, state: 'trial', from, to: version, at: Date.now(), by: o.by, modules: o.modules, healthTimeoutMs: o.healthTimeoutMs })
    checkpoint('trial-written')
    await switchCurrent(o.install, version)
    checkpoint('switched')
    return { from, to: version }
  } finally {
    await fs.promises.rm(staging, { recursive: true, force: true })
  }
}
