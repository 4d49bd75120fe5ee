// New releases for update tests without a build each: a built bundle unpacked, given another version (and
// target), changed by `edit`, listed again (release.json, SHA256SUMS), packed and signed as release/build.ts
// and `outpost release sign` do, with the same code.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readReleaseInfo, writeReleaseFiles } from '../../core/release/contents.js'
import { signBundle } from '../../core/release/signing.js'
import { pack } from '../../core/release/pack.js'

export interface Repack {
  version: string
  target?: string
  /** changes the unpacked release (its top folder) before it is listed and packed */
  edit?: (folder: string) => void
  /** signs it (writes <bundle>.sig) */
  privatePem?: string
}

/** returns the new bundle's file in `outDir` */
export async function repack (bundle: string, outDir: string, o: Repack): Promise<string> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'outpost-repack-'))
  try {
    execFileSync('tar', ['-xzf', bundle, '-C', work])
    const old = path.join(work, path.basename(bundle, '.tar.gz'))
    const { files: _files, ...head } = readReleaseInfo(old)
    const target = o.target ?? head.target
    const name = `outpost-${o.version}-${target}`
    const folder = path.join(work, name)
    renameSync(old, folder)
    const pkgFile = path.join(folder, 'app', 'package.json')
    writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')) as object, version: o.version }, null, 2) + '\n')
    o.edit?.(folder)
    writeReleaseFiles(folder, { ...head, version: o.version, target })
    const file = path.join(outDir, `${name}.tar.gz`)
    await pack(work, name, file, 0, 1) // the fastest gzip: tests make several
    if (o.privatePem !== undefined) writeFileSync(`${file}.sig`, JSON.stringify(await signBundle(file, o.privatePem), null, 2) + '\n')
    return file
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
