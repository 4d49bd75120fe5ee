// What a release bundle holds, as written in its `release.json`: version, git commit, target, and every
// file with its SHA-256, size and mode. The same list is written as `SHA256SUMS` so that install.sh can
// check an unpacked bundle with `sha256sum -c` and no Node. `verifyContents` checks a folder against it.
import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../errors.js'

export const RELEASE_FILE = 'release.json'
export const SUMS_FILE = 'SHA256SUMS'

export interface ReleaseFile {
  path: string
  sha256: string
  size: number
  /** 0o755 or 0o644 */
  mode: number
}

export interface ReleaseInfo {
  format: 1
  name: 'outpost'
  version: string
  commit: string
  /** the working tree had changes that are not in `commit` */
  dirty: boolean
  target: string
  node: { version: string, package: string, integrity: string }
  files: ReleaseFile[]
}

/** a release version: also a folder name under releases/, so no "/" and no leading dot */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/

export function sha256File (file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** every regular file under `root`, sorted, relative with "/" (symlinks and other kinds are refused) */
export function listFiles (root: string, skip: ReadonlySet<string> = new Set()): ReleaseFile[] {
  const files: ReleaseFile[] = []
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const relPath = rel === '' ? name : `${rel}/${name}`
      if (skip.has(relPath)) continue
      const full = path.join(root, relPath)
      const stat = lstatSync(full)
      if (stat.isDirectory()) walk(relPath)
      else if (stat.isFile()) files.push({ path: relPath, sha256: sha256File(full), size: stat.size, mode: (stat.mode & 0o111) === 0 ? 0o644 : 0o755 })
      else throw new OutpostError('RELEASE_INVALID', `${full}: only regular files and folders belong in a release (this is a ${stat.isSymbolicLink() ? 'symbolic link' : 'special file'})`)
    }
  }
  walk('')
  return files
}

export function sumsText (files: readonly ReleaseFile[]): string {
  return files.map(f => `${f.sha256}  ${f.path}\n`).join('')
}

/** writes SHA256SUMS and release.json for every file now in `folder` (a bundle's top folder) */
export function writeReleaseFiles (folder: string, head: Omit<ReleaseInfo, 'files'>): ReleaseInfo {
  writeFileSync(path.join(folder, SUMS_FILE), sumsText(listFiles(folder, new Set([SUMS_FILE, RELEASE_FILE]))))
  const info: ReleaseInfo = { ...head, files: listFiles(folder, new Set([RELEASE_FILE])) }
  writeFileSync(path.join(folder, RELEASE_FILE), JSON.stringify(info, null, 2) + '\n', { mode: 0o644 })
  return info
}

export function readReleaseInfo (folder: string): ReleaseInfo {
  const file = path.join(folder, RELEASE_FILE)
  let info: ReleaseInfo
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as ReleaseInfo
  } catch (err) {
    throw new OutpostError('RELEASE_INVALID', `${file}: ${(err as Error).message}`)
  }
  if (info.format !== 1 || info.name !== 'outpost' || typeof info.version !== 'string' || !VERSION_PATTERN.test(info.version) || typeof info.target !== 'string' || !Array.isArray(info.files)) {
    throw new OutpostError('RELEASE_INVALID', `${file}: not an Outpost release description (format 1 with name, version, target and files)`)
  }
  return info
}

/** checks that `folder` holds exactly the files its release.json lists, with their hashes */
export function verifyContents (folder: string): ReleaseInfo {
  const info = readReleaseInfo(folder)
  checkFiles(folder, info.files)
  return info
}

/** checks that `folder` holds exactly `files` (and release.json), with their hashes */
export function checkFiles (folder: string, files: readonly ReleaseFile[]): void {
  const found = new Map(listFiles(folder, new Set([RELEASE_FILE])).map(f => [f.path, f]))
  for (const want of files) {
    const got = found.get(want.path)
    if (got === undefined) throw new OutpostError('RELEASE_INVALID', `${folder}: ${want.path} is missing`)
    if (got.sha256 !== want.sha256) throw new OutpostError('RELEASE_INVALID', `${folder}: ${want.path} does not match its SHA-256 in ${RELEASE_FILE}`)
    found.delete(want.path)
  }
  const extra = [...found.keys()]
  if (extra.length > 0) throw new OutpostError('RELEASE_INVALID', `${folder}: ${extra.length} file(s) not in ${RELEASE_FILE}, e.g. ${extra[0]}`)
}
