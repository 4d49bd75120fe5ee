// Where module updates live on disk (docs/deploy.md, "Module updates"): <state>/modules/<module>/<version>/
// for each program unpacked, and <state>/modules/<module>/update.json for what became of the module's last
// update. <state> is the install's state folder (/var/lib/outpost) when outpost-boot started the core,
// otherwise `outpost-state` beside the manifest. A program is staged here beside the running one: downloaded
// into `.staging/`, its signature checked, unpacked to `.<version>.partial/`, checked against its
// release.json, synced, then renamed to `<version>/`, so a version's folder is always whole.
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from '../management/atomic-write.js'
import { OutpostError } from '../errors.js'
import { checkUrl } from './download.js'
import { commitFolder, installFromEnv } from './install.js'
import type { UpdateOutcome } from './install.js'

/** a module's update.json */
export interface ModuleUpdateState {
  format: 1
  module: string
  state: UpdateOutcome
  /** the version the module ran before, or its entry as the manifest had it when that was not an update */
  from: string
  to: string
  /** the module's `entry` in the manifest before and after the switch: a rollback writes `from` back */
  entries: { from: string, to: string }
  at: number
  /** who wrote it: the caller that asked, or `core` when the core decided */
  by: string
  reason?: string
  healthTimeoutMs: number
}

/** <state>/modules */
export function modulesRoot (manifestDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(installFromEnv(env)?.stateDir ?? path.join(manifestDir, 'outpost-state'), 'modules')
}

const stateFile = (dir: string): string => path.join(dir, 'update.json')

export function readModuleState (dir: string): ModuleUpdateState | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(stateFile(dir), 'utf8')) as ModuleUpdateState
    return state.format === 1 && typeof state.module === 'string' && typeof state.entries?.from === 'string' && typeof state.entries.to === 'string' ? state : undefined
  } catch {
    return undefined
  }
}

export async function writeModuleState (dir: string, state: ModuleUpdateState): Promise<void> {
  await writeFileAtomic(stateFile(dir), JSON.stringify(state, null, 2) + '\n')
}

/** every module's last update, by module, for core.info */
export function moduleUpdates (root: string): Record<string, ModuleUpdateState> {
  const found: Record<string, ModuleUpdateState> = {}
  let names: string[]
  try {
    names = fs.readdirSync(root)
  } catch {
    return found
  }
  for (const name of names.sort()) {
    const state = readModuleState(path.join(root, name))
    if (state !== undefined && state.module === name) found[name] = state
  }
  return found
}

/** the version an entry runs when it is a program of this store (`<dir>/<version>/…`), else undefined */
export function versionOf (dir: string, entry: string): string | undefined {
  const relative = path.relative(dir, entry)
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined
  const [version, ...rest] = relative.split(path.sep)
  return version !== undefined && rest.length > 0 ? version : undefined
}

export interface StageModuleOptions {
  /** <state>/modules/<module> */
  dir: string
  module: string
  url: string
  signature: unknown
  trusted: readonly string[]
  maxBundleBytes: number
  /** the version the module runs now, if it runs one of this store's */
  running: string | undefined
}

/** a module's bundle up to its folder <dir>/<version>/; returns the version and the entry the manifest is to name */
export async function stageModule (o: StageModuleOptions): Promise<{ version: string, entry: string }> {
  checkUrl(o.url)
  // loaded when an update runs, not kept in the core (its tar reader and signatures, module bundles' packing)
  const [{ fetchBundle }, { unpackTar }, { describeTarget, moduleTarget, verifyModuleFolder }] = await Promise.all([import('./stage.js'), import('../release/tar.js'), import('../release/module-bundle.js')])
  // a refused first update leaves no folder of the module's behind
  const made = await fs.promises.mkdir(o.dir, { recursive: true, mode: 0o755 })
  const staging = path.join(o.dir, '.staging')
  await fs.promises.rm(staging, { recursive: true, force: true })
  await fs.promises.mkdir(staging, { mode: 0o700 })
  let staged = false
  try {
    const { bundle, version } = await fetchBundle({
      ...o,
      staging,
      // the signature names module and version: refuse another module's bundle before downloading it
      accept (signature) {
        if (signature.target !== moduleTarget(o.module)) throw new OutpostError('RELEASE_TARGET', `the bundle is for ${describeTarget(signature.target)}, not for module ${o.module}`)
        if (signature.version === o.running) throw new OutpostError('CONFLICT', `module ${o.module} already runs ${o.running}`)
      },
    })
    const partial = path.join(o.dir, `.${version}.partial`)
    await fs.promises.rm(partial, { recursive: true, force: true })
    let main: string
    try {
      await unpackTar(bundle, partial, { maxUnpackedBytes: 4 * o.maxBundleBytes, maxEntries: 100_000 })
      main = verifyModuleFolder(partial, { module: o.module, version }).main
    } catch (err) {
      await fs.promises.rm(partial, { recursive: true, force: true })
      throw err
    }
    // a version of the same name that is not running (an older copy, one rolled back) is replaced
    const dest = path.join(o.dir, version)
    await fs.promises.rm(dest, { recursive: true, force: true })
    await commitFolder(partial, dest)
    staged = true
    return { version, entry: path.join(dest, ...main.split('/')) }
  } finally {
    await fs.promises.rm(staging, { recursive: true, force: true })
    // only the module's own folder, and only when empty: another module's update may be using its parents
    if (!staged && made !== undefined) await fs.promises.rmdir(o.dir).catch(() => {})
  }
}
