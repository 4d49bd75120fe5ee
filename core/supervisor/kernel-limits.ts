// The kernel layer of memory budgets: one cgroup per module instance where the core may create them,
// joined before the module's program runs, and the kernel's own OOM-kill count read when it exits. A
// group lives as long as its process: when the process exits, whatever is still in the group (a setsid()
// child, a double-forked grandchild) is killed and the group removed. Groups are named
// `outpost/<gateway>-<core pid>/<module>.<instance>`, so a core starting can tell which trees belong to a
// core that is no longer alive and clear them.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import type { CoreLog } from '../log.js'
import { cgroupSpawnPrefix, createModuleCgroup, detectCgroups, removeGroup } from './cgroups.js'
import type { CgroupInfo, ModuleCgroup } from './cgroups.js'

export interface KernelLimits {
  readonly info: CgroupInfo
  /** creates the instance's group; returns the argv prefix that joins it, or none without cgroups */
  prepare (clientId: string, limitBytes: number): string[]
  /** after the process exited: true when the kernel's OOM killer killed in its group */
  oomKilled (clientId: string): boolean
  /** after the process exited: kills what is left in its group, removes the group */
  release (clientId: string): Promise<void>
  releaseAll (): Promise<void>
  /** the trees of this gateway's cores that are no longer alive: their processes killed, the groups removed */
  clearStale (): Promise<StaleGroups>
}

export interface StaleGroups {
  /** the dead cores' pids */
  cores: number[]
  /** processes that were still running in their groups */
  processes: number
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** processes in a group and every group below it */
function countProcesses (dir: string): number {
  let count = 0
  try {
    count = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(line => line.trim() !== '').length
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) count += countProcesses(path.join(dir, entry.name))
    }
  } catch {
    // gone meanwhile
  }
  return count
}

export function createKernelLimits (gateway: string, corePid: number, log: Pick<CoreLog, 'info' | 'warn'>, detect = detectCgroups): KernelLimits {
  const info = detect()
  log.info(`memory limits: ${info.reason}`)
  const groups = new Map<string, { group: ModuleCgroup, oomAtSpawn: number }>()
  const tree = `${gateway}-${corePid}`

  const release = async (clientId: string): Promise<void> => {
    const entry = groups.get(clientId)
    groups.delete(clientId)
    await entry?.group.remove().catch((err: Error) => log.warn(`cannot remove cgroup of ${clientId}: ${err.message}`))
  }

  return {
    info,
    prepare (clientId, limitBytes) {
      if (info.kind === 'none') return []
      const group = groups.get(clientId)?.group ?? createModuleCgroup(info, `${tree}/${clientId}`, { limitBytes })
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
    async clearStale () {
      const cleared: StaleGroups = { cores: [], processes: 0 }
      if (info.memoryRoot === undefined) return cleared
      const top = path.join(info.memoryRoot, 'outpost')
      let names: string[]
      try {
        names = readdirSync(top, { withFileTypes: true }).filter(e => e.isDirectory()).map(e => e.name)
      } catch {
        return cleared
      }
      const prefix = `${gateway}-`
      for (const name of names) {
        const pid = Number(name.slice(prefix.length))
        if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length)) || pid === corePid || alive(pid)) continue
        const dir = path.join(top, name)
        cleared.processes += countProcesses(dir)
        await removeGroup(dir)
        cleared.cores.push(pid)
      }
      return cleared
    },
  }
}
