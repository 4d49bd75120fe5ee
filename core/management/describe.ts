// What `list` and `status` say about a module: its supervised state, its budget, and what its processes use.
import type { ModuleRuntime } from '../modules/table.js'
import { describeState } from '../modules/state.js'
import type { InstanceStateDoc } from '../modules/state.js'
import { clientIdOf } from '../protocol/topics.js'
import type { ProcessUsage } from './usage.js'

export interface InstanceSummary extends InstanceStateDoc {
  /** running time of the current process, null unless running */
  uptimeMs: number | null
  memoryBytes: number | null
  cpuMs: number | null
  failure: string | null
}

export interface ModuleSummary {
  module: string
  /** the worst instance state */
  state: string
  enabled: boolean
  /** memory budget per instance, MiB */
  budgetMiB: number
  /** private memory of all live instances */
  memoryBytes: number | null
  cpuMs: number | null
  /** the shortest uptime among running instances: a recent restart shows */
  uptimeMs: number | null
  restarts: number
  /** the most recent exit of any instance */
  lastExit: InstanceStateDoc['lastExit']
  failure: string | null
  instances: InstanceSummary[]
}

/** memory and CPU of one instance's process, by client id (`<module>.<instance>`) and pid */
export type InstanceUsage = (clientId: string, pid: number) => ProcessUsage | null

function sum (values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null)
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0)
}

export function summarise (runtime: ModuleRuntime, defaultBudgetMiB: number, usage: InstanceUsage, now = Date.now()): ModuleSummary {
  const doc = describeState(runtime)
  const { spec } = runtime.loaded
  const instances = doc.instances.map((i, n): InstanceSummary => {
    // memory is reported once the module has said ready: before that the process may still be the `sh`
    // prefix that joins the cgroup, not the module's program (issue 10 D1)
    const used = i.pid === null || i.state === 'starting' ? null : usage(clientIdOf(doc.module, i.instance), i.pid)
    return {
      ...i,
      uptimeMs: i.state === 'running' ? now - i.since : null,
      memoryBytes: used?.memoryBytes ?? null,
      cpuMs: used?.cpuMs ?? null,
      failure: runtime.instances[n]?.state.failure ?? null,
    }
  })
  const uptimes = instances.map(i => i.uptimeMs).filter((u): u is number => u !== null)
  const exits = instances.map(i => i.lastExit).filter(e => e !== null).sort((a, b) => b.at - a.at)
  return {
    module: doc.module,
    state: doc.state,
    enabled: spec.enabled,
    budgetMiB: spec.memoryMiB ?? defaultBudgetMiB,
    memoryBytes: sum(instances.map(i => i.memoryBytes)),
    cpuMs: sum(instances.map(i => i.cpuMs)),
    uptimeMs: uptimes.length === 0 ? null : Math.min(...uptimes),
    restarts: instances.reduce((total, i) => total + i.restarts, 0),
    lastExit: exits[0] ?? null,
    failure: instances.find(i => i.failure !== null)?.failure ?? null,
    instances,
  }
}
