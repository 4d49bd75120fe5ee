// A module bundle (docs/deploy.md, "Module updates"): one module's program, from a folder or a single .js
// file, packed like a release (pack.ts) with one top folder `<module>-<version>/` holding the program and a
// release.json naming the module, the version, the file node runs (`main`) and every file with its
// SHA-256. Its target is `module:<module>`: the release signature (signing.ts) then binds the bundle to
// that module, a module update refuses a bundle for another module, and a release update refuses it as a
// target that is not this machine's.
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { checkFiles, listFiles, RELEASE_FILE, VERSION_PATTERN } from './contents.js'
import type { ReleaseFile } from './contents.js'
import { pack } from './pack.js'

export const MODULE_TARGET_PREFIX = 'module:'
/** a module name as the manifest takes it (manifest/schema.ts) */
export const MODULE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/
/** the file node runs: compiled JavaScript, as for every entry */
const MAIN_PATTERN = /\.(c|m)?js$/
/** a folder's main unless --main names it: the first of these it holds */
const DEFAULT_MAINS = ['index.js', 'index.mjs', 'index.cjs'] as const

export interface ModuleBundleInfo {
  format: 1
  kind: 'module'
  module: string
  version: string
  /** `module:<module>` */
  target: string
  /** the file node runs, "/"-separated below the bundle's folder */
  main: string
  files: ReleaseFile[]
}

export const moduleTarget = (module: string): string => `${MODULE_TARGET_PREFIX}${module}`

/** what a signature's target names, for an error message */
export function describeTarget (target: string): string {
  return target.startsWith(MODULE_TARGET_PREFIX) ? `module ${target.slice(MODULE_TARGET_PREFIX.length)}` : `a release for ${target}`
}

function mainProblem (main: string): string | undefined {
  if (!MAIN_PATTERN.test(main)) return `"${main}" is not compiled JavaScript (.js, .mjs or .cjs)`
  if (main.startsWith('/') || main.split('/').some(p => p === '' || p === '.' || p === '..')) return `"${main}" is not a plain path inside the bundle's folder`
  return undefined
}

/**
 * Makes `<outDir>/<module>-<version>.tar.gz` from `source`: a folder (its `main`, by default index.js,
 * index.mjs or index.cjs) or one .js file (which is its main). Only regular files and folders are taken; a
 * symbolic link is refused.
 */
export async function makeModuleBundle (o: { source: string, module: string, version: string, main?: string, outDir: string }): Promise<{ file: string, info: ModuleBundleInfo }> {
  if (!MODULE_NAME_PATTERN.test(o.module)) throw new OutpostError('RELEASE_BUILD', `"${o.module}" is not a module name (lower-case letters, digits and "-", starting with a letter, at most 32)`)
  if (!VERSION_PATTERN.test(o.version)) throw new OutpostError('RELEASE_BUILD', `version "${o.version}" is not a release version (letters, digits, ".", "+", "_", "-"; at most 64)`)
  let stat
  try {
    stat = lstatSync(o.source)
  } catch (err) {
    throw new OutpostError('RELEASE_BUILD', `${o.source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (!stat.isFile() && !stat.isDirectory()) throw new OutpostError('RELEASE_BUILD', `${o.source}: a module bundle is made from a folder or a .js file`)
  const main = stat.isFile() ? path.basename(o.source) : o.main ?? DEFAULT_MAINS.find(m => existsSync(path.join(o.source, m))) ?? DEFAULT_MAINS[0]
  if (stat.isFile() && o.main !== undefined && o.main !== main) throw new OutpostError('RELEASE_BUILD', `${o.source}: a single file is its own main; --main is for folders`)
  const problem = mainProblem(main)
  if (problem !== undefined) throw new OutpostError('RELEASE_BUILD', `main ${problem}`)
  if (stat.isDirectory() && existsSync(path.join(o.source, RELEASE_FILE))) throw new OutpostError('RELEASE_BUILD', `${o.source} holds a ${RELEASE_FILE}: the bundle writes its own`)

  const work = mkdtempSync(path.join(os.tmpdir(), 'outpost-module-bundle-'))
  try {
    const folder = `${o.module}-${o.version}`
    const staging = path.join(work, folder)
    if (stat.isFile()) {
      mkdirSync(staging, { mode: 0o755 })
      copyFileSync(o.source, path.join(staging, main))
    } else {
      cpSync(o.source, staging, { recursive: true, verbatimSymlinks: true })
    }
    // listFiles refuses links and special files
    const files = listFiles(staging)
    if (!files.some(f => f.path === main)) throw new OutpostError('RELEASE_BUILD', `${o.source}: no ${o.main ?? 'index.js, index.mjs or index.cjs'} in it (name the program with --main)`)
    const info: ModuleBundleInfo = { format: 1, kind: 'module', module: o.module, version: o.version, target: moduleTarget(o.module), main, files }
    writeFileSync(path.join(staging, RELEASE_FILE), JSON.stringify(info, null, 2) + '\n', { mode: 0o644 })
    mkdirSync(o.outDir, { recursive: true })
    const file = path.join(o.outDir, `${folder}.tar.gz`)
    await pack(work, folder, file, Math.floor(Date.now() / 1000))
    return { file, info }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/**
 * Checks an unpacked module bundle: its release.json is a module bundle's for `expect` (the module and
 * version its signature names), its main is compiled JavaScript inside it, and the folder holds exactly
 * the files listed, with their hashes.
 */
export function verifyModuleFolder (folder: string, expect: { module: string, version: string }): ModuleBundleInfo {
  const file = path.join(folder, RELEASE_FILE)
  let info: ModuleBundleInfo
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as ModuleBundleInfo
  } catch (err) {
    throw new OutpostError('RELEASE_INVALID', `the bundle's ${RELEASE_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (info.format !== 1 || info.kind !== 'module' || typeof info.main !== 'string' || !Array.isArray(info.files)) {
    throw new OutpostError('RELEASE_INVALID', `the bundle's ${RELEASE_FILE} does not describe a module bundle (format 1, kind "module", module, version, main, files)`)
  }
  if (info.module !== expect.module || info.version !== expect.version || info.target !== moduleTarget(expect.module)) {
    throw new OutpostError('RELEASE_INVALID', `the bundle's ${RELEASE_FILE} says module ${String(info.module)} ${String(info.version)}, its signature module ${expect.module} ${expect.version}`)
  }
  const problem = mainProblem(info.main)
  if (problem !== undefined) throw new OutpostError('RELEASE_INVALID', `the bundle's main ${problem}`)
  if (!info.files.some(f => f.path === info.main)) throw new OutpostError('RELEASE_INVALID', `the bundle's main ${info.main} is not among its files`)
  checkFiles(folder, info.files)
  return info
}
