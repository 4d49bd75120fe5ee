// Module-only updates (docs/deploy.md, "Module updates"): `core.update` with `module` replaces one module's
// program from a signed module bundle, in the module's operation queue. The program is staged beside the
// running one (update/module-store.ts), the update recorded as on trial, the module's entry switched by
// rewriting the manifest (the store: validated, written atomically), then that module alone is restarted
// and must run again as an update's health check says (update/health.ts). Otherwise its entry is switched
// back, it is restarted on its previous program, and the caller is answered UPDATE_ROLLED_BACK with the
// reason. A core killed at any step finishes or undoes the update when it starts again (resumeModuleUpdates).
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { OutpostError } from '../errors.js'
import { describeState } from '../modules/state.js'
import { checkHealth } from '../update/health.js'
import { installFromEnv, pruneFolders, readState } from '../update/install.js'
import { modulesRoot, moduleUpdates, readModuleState, stageModule, versionOf, writeModuleState } from '../update/module-store.js'
import type { ModuleUpdateState } from '../update/module-store.js'
import { checkpoint } from '../update/checkpoint.js'
import type { Management } from './context.js'
import type { OpQueues } from './op-queue.js'
import { swapModule } from './replace.js'

/** a shipped program's entry: updated with its release, never on its own (its config schema comes with it) */
const SHIPPED = /^(drivers|modules)\/[a-z][a-z0-9-]*$/

export interface ModuleUpdateResult {
  module: string
  from: string
  to: string
  state: 'committed'
  /** versions pruned beyond updates.keep */
  removed: string[]
}

const moduleDir = (m: Management, module: string): string => path.join(modulesRoot(m.gw.loaded.dir), module)

/** the module's manifest entry, when a bundle may replace it */
function updatableEntry (m: Management, module: string): string {
  const raw = m.store.rawModule(module)
  if (raw === undefined) {
    if (m.gw.modules.get(module) !== undefined) throw new OutpostError('UPDATE_UNSUPPORTED', `module ${module} is built in (from the manifest's own section): it is updated with its release`)
    throw new OutpostError('NO_SUCH_MODULE', `no module named "${module}" in ${m.store.file}`)
  }
  const entry = raw.entry
  if (typeof entry !== 'string') throw new OutpostError('UPDATE_UNSUPPORTED', `module ${module} runs a command: a module bundle replaces a JavaScript entry`)
  if (SHIPPED.test(entry)) throw new OutpostError('UPDATE_UNSUPPORTED', `module ${module} runs the shipped ${entry}: it is updated with its release (outpost update), with the schema its config is checked against`)
  return entry
}

/** rewrites the module's entry in the manifest (validated, atomic) and makes it the manifest in force */
async function setEntry (m: Management, module: string, entry: string): Promise<void> {
  m.gw.loaded = await m.store.change(doc => {
    const raw = doc.modules?.find(r => r.name === module)
    if (raw === undefined) throw new OutpostError('NO_SUCH_MODULE', `module ${module} is not in ${m.store.file}`)
    raw.entry = entry
  })
}

/** the module's state once its start settles, or when `ms` have passed */
async function stateAfterStart (m: Management, module: string, ms: number): Promise<string> {
  const waiting = new AbortController()
  await Promise.race([m.gw.modules.start(module).catch(() => {}), sleep(ms, undefined, { signal: waiting.signal }).catch(() => {})])
  waiting.abort()
  return describeState(m.gw.modules.require(module)).state
}

/**
 * Decides a module update on trial: waits for the module as the health check says (it was just restarted,
 * or is being started by the core), then commits, or writes the rollback and switches back.
 */
async function decide (m: Management, trial: ModuleUpdateState): Promise<ModuleUpdateResult> {
  const { gw } = m
  const name = trial.module
  const dir = moduleDir(m, name)
  const verdict = await checkHealth(gw, [name], trial.healthTimeoutMs, m.stopping)
  if (verdict === undefined) throw new OutpostError('UNAVAILABLE', `gateway stopping: the update of module ${name} to ${trial.to} stays on trial and is decided when the core starts again`)
  if (verdict.healthy) {
    checkpoint('module-healthy')
    await writeModuleState(dir, { ...trial, state: 'committed', at: Date.now(), by: 'core' })
    const removed = await pruneFolders(dir, gw.loaded.manifest.updates.keep, [trial.to, trial.from])
    gw.log.info(`module ${name} ${trial.to} committed: it runs${removed.length === 0 ? '' : `; removed version(s) ${removed.join(', ')}`}`)
    gw.bus.emit('update', { module: name, state: 'committed', from: trial.from, to: trial.to })
    return { module: name, from: trial.from, to: trial.to, state: 'committed', removed }
  }
  const reason = verdict.reason
  gw.log.error(`module ${name} ${trial.to} failed its health check: ${reason}; rolling back to ${trial.from}`)
  gw.bus.emit('update', { module: name, state: 'rolled-back', from: trial.from, to: trial.to, reason })
  await writeModuleState(dir, { ...trial, state: 'rolled-back', at: Date.now(), by: 'core', reason })
  checkpoint('module-rollback-written')
  let now: string
  try {
    // an operator's stop during the check is kept: the module goes back to its old program, stopped
    const stopped = gw.modules.require(name).instances.every(i => i.state.status === 'stopped')
    await setEntry(m, name, trial.entries.from)
    await swapModule(m, name)
    now = stopped ? 'stopped' : await stateAfterStart(m, name, trial.healthTimeoutMs)
  } catch (err) {
    now = `not switched back yet (${(err as Error).message}); the core switches it back when it starts again`
  }
  throw new OutpostError('UPDATE_ROLLED_BACK', `module ${name}: ${trial.to} failed its health check (${reason}); rolled back to ${trial.from}, which is ${now}`, {
    details: { module: name, from: trial.from, to: trial.to, reason, state: now },
  })
}

/** `core.update` with `module`: the whole update, answered once it is committed or rolled back */
export async function updateModule (m: Management, a: { module: string, url: string, signature: unknown }, by: string): Promise<ModuleUpdateResult> {
  const { gw } = m
  const name = a.module
  const entry = updatableEntry(m, name)
  const install = installFromEnv(process.env)
  const release = install === undefined ? undefined : readState(install)
  if (release?.state === 'trial') throw new OutpostError('CONFLICT', `release ${release.to} is on trial: update module ${name} once it is committed or rolled back`)
  const runtime = gw.modules.require(name)
  if (runtime.instances.every(i => i.state.status === 'stopped')) throw new OutpostError('CONFLICT', `module ${name} is stopped: start it first (an update is kept only once the module runs on it)`)
  const dir = moduleDir(m, name)
  const running = versionOf(dir, path.resolve(gw.loaded.dir, entry))
  const { updates } = gw.loaded.manifest
  const staged = await stageModule({ dir, module: name, url: a.url, signature: a.signature, trusted: updates.keys, maxBundleBytes: updates.maxBundleBytes, running })
  checkpoint('module-unpacked')

  const trial: ModuleUpdateState = {
    format: 1, module: name, state: 'trial', from: running ?? entry, to: staged.version,
    entries: { from: entry, to: staged.entry }, at: Date.now(), by, healthTimeoutMs: updates.healthTimeoutMs,
  }
  await writeModuleState(dir, trial)
  checkpoint('module-trial-written')
  try {
    await setEntry(m, name, staged.entry)
  } catch (err) {
    await writeModuleState(dir, { ...trial, state: 'rolled-back', at: Date.now(), by: 'core', reason: `the manifest could not be switched: ${(err as Error).message}` })
    throw err
  }
  checkpoint('module-switched')
  gw.log.warn(`module ${name}: ${staged.version} staged by ${by}; restarting it on it (from ${trial.from})`)
  await swapModule(m, name)
  // the start settles only when the module runs or has failed: the health check has the deadline
  gw.modules.start(name).catch(() => {})
  return await decide(m, trial)
}

/**
 * At the core's start, before its modules start: a module update the last core left undecided is finished
 * or undone. On trial with the manifest switched, the module's health check runs (in the background, in
 * its queue); on trial without, it was cut off before the switch (the module runs its old program); rolled
 * back with the manifest not yet switched back, it is switched back now.
 */
export async function resumeModuleUpdates (m: Management, queues: OpQueues): Promise<void> {
  const { gw } = m
  for (const state of Object.values(moduleUpdates(modulesRoot(gw.loaded.dir)))) {
    const name = state.module
    const raw = m.store.rawModule(name)
    const entry = typeof raw?.entry === 'string' ? raw.entry : undefined
    const dir = moduleDir(m, name)
    if (state.state === 'trial' && entry === state.entries.to) {
      gw.log.info(`module ${name} ${state.to} on trial (updated from ${state.from}): waiting up to ${state.healthTimeoutMs} ms for it to run`)
      queues.run(name, 'update', state.healthTimeoutMs + 60_000, () => `the health check of module ${name}`, () => decide(m, state))
        .catch((err: Error) => gw.log.error(`module ${name}: ${err.message}`))
    } else if (state.state === 'trial') {
      const reason = entry === state.entries.from
        ? `the update was cut off before module ${name} was switched to ${state.to}`
        : `the manifest's entry of module ${name} is neither its old nor its new program any more: left as it is`
      gw.log.warn(`module ${name} ${state.to}: rolled back: ${reason}`)
      await writeModuleState(dir, { ...state, state: 'rolled-back', at: Date.now(), by: 'core', reason })
      gw.bus.emit('update', { module: name, state: 'rolled-back', from: state.from, to: state.to, reason })
    } else if (state.state === 'rolled-back' && entry === state.entries.to) {
      gw.log.warn(`module ${name}: switching back to ${state.from} (the core stopped before it had after ${state.to} failed)`)
      await setEntry(m, name, state.entries.from)
      await swapModule(m, name)
    }
  }
}
