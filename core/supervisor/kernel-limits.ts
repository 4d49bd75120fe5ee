// The kernel layer of memory budgets: one cgroup per module instance where the core may create them,
// joined before the module's program runs, and the kernel's own OOM-kill count read when it exits.
import type { CoreLog } from '../log.js'
import { cgroupSpawnPrefix, createModuleCgroup, detectCgroups } from './cgroups.js'
import type { ModuleCgroup } from './cgroups.js'

export interface KernelLimits {
  /** creates the instance's group; returns the argv prefix that joins it, or none without cgroups */
  prepare (clientId: string, limitBytes: number): string[]
  /** after the process exited: true when the kernel's OOM killer killed in its group */
  oomKilled (clientId: string): boolean
  release (clientId: string): Promise<void>
  releaseAll (): Promise<void>
}

export function createKernelLimits (gateway: string, log: Pick<CoreLog, 'info' | 'warn'>, detect = detectCgroups): KernelLimits {
  const info = detect()
  log.info(`memory limits: ${info.reason}`)
  const groups = new Map<string, { group: ModuleCgroup, oomAtSpawn: number }>()

  const release = async (clientId: string): Promise<void> => {
    const entry = groups.get(clientId)
    groups.delete(clientId)
    await entry?.group.remove().catch((err: Error) => log.warn(`cannot remove cgroup of ${clientId}: ${err.message}`))
  }

  return {
    prepare (clientId, limitBytes) {
      if (info.kind === 'none') return []
      const existing = groups.get(clientId)
      let group = existing?.group
      if (group === undefined) {
        group = createModuleCgroup(info, `${gateway}/${clientId}`, { limitBytes })
      }
      groups.set(clientId, { group, oomAtSpawn: group.oomKills() })
      return cgroupSpawnPrefix(group)
    },
    oomKilled (clientId) {
      const entry = groups.get(clientId)
      return entry !== undefined && entry.group.oomKills() > entry.oomAtSpawn
    },
    release,
    async releaseAll () {
      await Promise.all([...groups.keys()].map(release))
    },
  }
}
