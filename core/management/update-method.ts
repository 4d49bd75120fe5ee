// `core.update` (docs/management.md): an admin's update of the whole gateway from a signed bundle at a URL,
// or of one module's program with `module` (module-update.ts, answered once the module runs on it or was
// rolled back). A release bundle is staged beside the running release (update/stage.ts); the answer comes once `current` points
// at it, and then the core stops to be started on it by outpost-boot, which with the new core's health
// check commits the update or rolls it back (update/extension.ts).
import type { Caller } from '../broker/access.js'
import { OutpostError } from '../errors.js'
import { describeState } from '../modules/state.js'
import { installFromEnv } from '../update/install.js'
import { parseArgs, updateArgs } from './args.js'
import { updateModule } from './module-update.js'
import type { Management } from './context.js'

/** an update's deadline: a bundle of ≈ 50 MiB over a slow link, then unpacking ≈ 1800 files on an SD card */
export const UPDATE_TIMEOUT_MS = 30 * 60_000

export function updateMethod (m: Management): (args: unknown, caller: Caller | null) => Promise<unknown> {
  let running = false
  return async (args, caller) => {
    const a = parseArgs('update', updateArgs, args)
    if (caller === null || caller.kind === 'module') throw new OutpostError('NOT_AUTHORISED', 'core.update: only an admin operator (or a fleet admin through the uplink) may update the gateway')
    const by = caller.kind === 'anonymous' ? `anonymous ${caller.clientId}` : `${caller.kind} ${caller.user}`
    if (a.module !== undefined) return await updateModule(m, { module: a.module, url: a.url, signature: a.signature }, by)
    const install = installFromEnv(process.env)
    if (install === undefined) throw new OutpostError('UPDATE_UNSUPPORTED', 'core.update: this core was not started by outpost-boot from an installed release (install a bundle with install.sh; docs/deploy.md)')
    if (running) throw new OutpostError('CONFLICT', 'core.update: an update is already being staged')
    running = true
    try {
      const { updates } = m.gw.loaded.manifest
      const modules = m.gw.modules.list().filter(r => describeState(r).state === 'running').map(r => r.loaded.spec.name)
      // the update machinery (tar, signatures, downloads) is loaded when an update runs, not kept in the core
      const { stageUpdate } = await import('../update/stage.js')
      const staged = await stageUpdate({ install, url: a.url, signature: a.signature, trusted: updates.keys, maxBundleBytes: updates.maxBundleBytes, healthTimeoutMs: updates.healthTimeoutMs, modules, by })
      m.gw.log.warn(`update to ${staged.to} staged by ${by}: restarting into it (from ${staged.from})`)
      // the answer and the audit record leave first; the core then stops, and outpost-boot starts the new release
      setImmediate(() => m.gw.events.emit('restart', `update to ${staged.to}`))
      return { ...staged, modules, healthTimeoutMs: updates.healthTimeoutMs, restarting: true }
    } finally {
      running = false
    }
  }
}
