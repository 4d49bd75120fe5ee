// An installed gateway as install.sh lays it out and outpost-boot starts it (docs/deploy.md, "Updates"):
// <base>/releases/<version>/, <base>/current → releases/<version>, and the update state in <stateDir>:
// update.json (what is on trial, committed or rolled back, and why) and update.boots (one line per start of
// a release on trial, appended by outpost-boot). Every change here is atomic and on disk before the next
// step, so a power cut between any two steps leaves a state outpost-boot can boot from.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from '../management/atomic-write.js'
import { OutpostError } from '../errors.js'
import { VERSION_PATTERN } from '../release/contents.js'

export interface Install {
  /** <prefix>/opt/outpost */
  base: string
  /** <prefix>/var/lib/outpost */
  stateDir: string
}

export type UpdateOutcome = 'trial' | 'committed' | 'rolled-back'

/** update.json, written with two-space indents: outpost-boot reads `state`, `from` and `to` with sed */
export interface UpdateState {
  format: 1
  state: UpdateOutcome
  /** the release that ran before the update (the one a rollback returns to) */
  from: string
  /** the release the update installed */
  to: string
  /** when the state was last written (ms since the epoch) */
  at: number
  /** who wrote it: the caller that asked for the update, `core <version>` or `outpost-boot` */
  by: string
  /** why it was rolled back */
  reason?: string
  /** the modules running when the update was asked for: the health check waits for each */
  modules?: string[]
  healthTimeoutMs?: number
}

/** the exit code of a core that stopped to be started again on another release (the unit's RestartForceExitStatus) */
export const RESTART_EXIT_CODE = 75

/** the install the running core belongs to, as outpost-boot exports it; undefined when run otherwise */
export function installFromEnv (env: NodeJS.ProcessEnv): Install | undefined {
  const base = env.OUTPOST_HOME
  const stateDir = env.OUTPOST_STATE_DIR
  if (base === undefined || base === '' || stateDir === undefined || stateDir === '') return undefined
  return { base, stateDir }
}

export const stateFile = (install: Install): string => path.join(install.stateDir, 'update.json')
export const bootsFile = (install: Install): string => path.join(install.stateDir, 'update.boots')
export const releasesDir = (install: Install): string => path.join(install.base, 'releases')

/** the version `current` points at */
export function currentRelease (install: Install): string {
  const target = fs.readlinkSync(path.join(install.base, 'current'))
  const version = /^releases\/([^/]+)$/.exec(target)?.[1]
  if (version === undefined || !VERSION_PATTERN.test(version)) throw new OutpostError('UPDATE_UNSUPPORTED', `${install.base}/current points at ${target}, not at releases/<version>`)
  return version
}

export function readState (install: Install): UpdateState | undefined {
  let text: string
  try {
    text = fs.readFileSync(stateFile(install), 'utf8')
  } catch {
    return undefined
  }
  const state = JSON.parse(text) as UpdateState
  return state.format === 1 && typeof state.from === 'string' && typeof state.to === 'string' ? state : undefined
}

export async function writeState (install: Install, state: UpdateState): Promise<void> {
  await writeFileAtomic(stateFile(install), JSON.stringify(state, null, 2) + '\n')
}

async function syncDir (dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** points `current` at releases/<version> by renaming a new symlink over it (as install.sh does) */
export async function switchCurrent (install: Install, version: string): Promise<void> {
  const next = path.join(install.base, 'current.new')
  await fs.promises.rm(next, { force: true })
  await fs.promises.symlink(`releases/${version}`, next)
  await fs.promises.rename(next, path.join(install.base, 'current'))
  await syncDir(install.base)
}

/** renames a finished folder into place, after everything written under it is on disk */
export async function commitFolder (from: string, to: string): Promise<void> {
  // one syncfs of the file system rather than an fsync per file (a release holds ≈ 1800)
  execFileSync('sync', ['-f', from])
  await fs.promises.rename(from, to)
  await syncDir(path.dirname(to))
}

export async function clearBoots (install: Install): Promise<void> {
  await fs.promises.rm(bootsFile(install), { force: true })
}

/**
 * Removes releases beyond `keep`: never those in `protect` (the running one and the one before it), then
 * the newest first. Leftovers of an interrupted unpack or prune (`.<name>`) go too. A release is renamed
 * away before it is deleted, so a cut-off delete never leaves half a release under a version's name.
 */
export async function prune (install: Install, keep: number, protect: readonly string[]): Promise<string[]> {
  return await pruneFolders(releasesDir(install), keep, protect)
}

/** prune's rule over any folder of versions (a module's programs too: module-store.ts) */
export async function pruneFolders (dir: string, keep: number, protect: readonly string[]): Promise<string[]> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true })
  for (const e of entries) if (e.name.startsWith('.')) await fs.promises.rm(path.join(dir, e.name), { recursive: true, force: true })
  const others = await Promise.all(entries.filter(e => e.isDirectory() && !e.name.startsWith('.') && !protect.includes(e.name))
    .map(async e => ({ name: e.name, mtime: (await fs.promises.stat(path.join(dir, e.name))).mtimeMs })))
  others.sort((a, b) => b.mtime - a.mtime)
  const kept = protect.filter(v => entries.some(e => e.name === v)).length
  const removed = others.slice(Math.max(0, keep - kept)).map(o => o.name)
  for (const name of removed) {
    const doomed = path.join(dir, `.${name}.prune`)
    await fs.promises.rename(path.join(dir, name), doomed)
    await fs.promises.rm(doomed, { recursive: true, force: true })
  }
  return removed
}

/** what core.info reports: the release `current` names and update.json as it is */
export function updateStatus (install: Install | undefined): { release: string, last: UpdateState | null } | null {
  if (install === undefined) return null
  try {
    return { release: currentRelease(install), last: readState(install) ?? null }
  } catch {
    return null
  }
}
