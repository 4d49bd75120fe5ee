// The production dependencies a target needs, from package-lock.json: every package not marked `dev` (but
// no @types/*), and of the platform packages (npm `os`/`cpu`/`libc`) only the target's. Each is copied from the installed
// node_modules when it is there in the locked version, or unpacked from the registry's tarball otherwise
// (another platform's optional package), then pruned of what only builds or other targets need.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { Target } from '../core/release/targets.js'
import { cachedTarball } from './npm-cache.js'

interface LockEntry {
  version?: string
  dev?: boolean
  optional?: boolean
  os?: string[]
  cpu?: string[]
  libc?: string[]
  integrity?: string
  link?: boolean
}

export interface Dependency {
  /** path in node_modules form: node_modules/a/node_modules/b */
  lockPath: string
  name: string
  version: string
  integrity: string
}

const fits = (list: string[] | undefined, value: string): boolean => list === undefined || list.includes(value)

export function productionDependencies (lockFile: string, target: Target): Dependency[] {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages: Record<string, LockEntry> }
  const deps: Dependency[] = []
  for (const [lockPath, entry] of Object.entries(lock.packages)) {
    if (lockPath === '' || entry.dev === true || entry.link === true) continue
    // type declarations some packages list as dependencies: nothing runs them
    if (lockPath.includes('node_modules/@types/')) continue
    if (!fits(entry.os, 'linux') || !fits(entry.cpu, target.npmCpu) || !fits(entry.libc, 'glibc')) continue
    const name = lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length)
    deps.push({ lockPath, name, version: entry.version ?? '', integrity: entry.integrity ?? '' })
  }
  return deps.sort((a, b) => a.lockPath.localeCompare(b.lockPath))
}

function installedVersion (dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version
  } catch {
    return undefined
  }
}

/** copies (or fetches) every dependency into `appDir/node_modules/…` and prunes it for the target */
export function installDependencies (deps: readonly Dependency[], options: { projectRoot: string, appDir: string, target: Target, cacheDir: string }): void {
  for (const dep of deps) {
    const source = path.join(options.projectRoot, dep.lockPath)
    const dest = path.join(options.appDir, dep.lockPath)
    mkdirSync(dest, { recursive: true })
    if (installedVersion(source) === dep.version) {
      // nested node_modules are entries of their own (and may be dev); .bin holds links to tools
      cpSync(source, dest, { recursive: true, filter: src => path.relative(source, src).split(path.sep)[0] !== 'node_modules' && path.basename(src) !== '.bin' })
    } else {
      const tarball = cachedTarball(dep.name, dep.version, dep.integrity, options.cacheDir)
      execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1', '--no-same-owner'])
    }
    pruneAddon(dest, options.target)
  }
  pruneTypings(path.join(options.appDir, 'node_modules'))
}

/** type declarations, source maps and documents: nothing a running gateway reads (licences stay) */
const NOT_RUN = /\.(d\.[cm]?ts|map|md|markdown)$/i
const LICENCE = /^licen[cs]e/i

function pruneTypings (dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) pruneTypings(full)
    else if (NOT_RUN.test(entry.name) && !LICENCE.test(entry.name)) rmSync(full)
  }
}

/**
 * An addon package keeps only the target's prebuilt binaries: no `build/` (a binary compiled for the build
 * machine, which node-gyp-build would prefer), no sources, no other platforms' prebuilds.
 */
function pruneAddon (dir: string, target: Target): void {
  if (!existsSync(path.join(dir, 'binding.gyp'))) return
  for (const name of ['build', 'src', 'binding.gyp', 'deps']) rmSync(path.join(dir, name), { recursive: true, force: true })
  const prebuilds = path.join(dir, 'prebuilds')
  if (!existsSync(prebuilds)) return
  for (const platform of readdirSync(prebuilds)) {
    const folder = path.join(prebuilds, platform)
    if (platform !== target.prebuilds.dir) {
      rmSync(folder, { recursive: true, force: true })
      continue
    }
    for (const file of readdirSync(folder)) if (!target.prebuilds.keep.test(file)) rmSync(path.join(folder, file))
  }
}
