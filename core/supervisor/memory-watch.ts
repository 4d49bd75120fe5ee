// The userspace layer of memory budgets, as a gateway extension: every module instance's private memory
// (its whole process tree) is sampled; one over its budget for longer than the grace is stopped with
// reason `over-budget`, and the breach is published as the core hook `budget-breach`.
import type { ExtensionFactory } from '../extension.js'
import type { ModuleRuntime } from '../modules/table.js'
import type { ModuleProcess } from '../modules/spawn.js'
import type { ModuleRunState } from './policy.js'
import { parseClientId } from '../protocol/topics.js'
import { createMemorySampler } from './memory-sampler.js'
import type { MemorySampler } from './memory-sampler.js'

const MiB = 1024 * 1024

export const memoryWatch: ExtensionFactory = (ctx) => {
  let sampler: MemorySampler | undefined
  const onSpawned = (runtime: ModuleRuntime, instance: number, child: ModuleProcess): void => {
    const { spec } = runtime.loaded
    const budgetMiB = spec.memoryMiB ?? ctx.loaded.manifest.defaults.memoryMiB
    sampler?.watch(`${spec.name}.${instance}`, child.pid, { limitBytes: budgetMiB * MiB, graceMs: ctx.loaded.manifest.defaults.memory.graceMs })
  }
  // Without cgroups this is the only record of a module's tree: a worker that setsid()ed or whose parent
  // died has left its process group, and is killed here when the module exits (with cgroups, removing the
  // group kills it too).
  const onExit = (runtime: ModuleRuntime, instance: number): void => {
    for (const pid of sampler?.unwatch(`${runtime.loaded.spec.name}.${instance}`) ?? []) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone since
      }
    }
  }
  // a sample taken before ready may be of the `sh`/`setpriv` prefix that had not exec'd the program yet:
  // once the module says ready its program runs, and what `list` reports is measured from then on
  const onState = (runtime: ModuleRuntime, instance: number, state: ModuleRunState): void => {
    // after the state change that reported it has run its course (a breach found here stops the instance)
    if (state.status === 'running') queueMicrotask(() => sampler?.sample(`${runtime.loaded.spec.name}.${instance}`))
  }
  return {
    name: 'memory-watch',
    start () {
      sampler = createMemorySampler({
        intervalMs: ctx.loaded.manifest.defaults.memory.sampleMs,
        onBreach: (breach) => {
          const id = parseClientId(breach.id)
          const instance = id === null ? undefined : ctx.modules.get(id.module)?.instances[id.instance]
          if (id === null || instance === undefined) return
          const figures = { module: id.module, instance: id.instance, pid: breach.pid, limitBytes: breach.limitBytes, measuredBytes: breach.measuredBytes, overForMs: breach.overForMs }
          ctx.log.warn(`${breach.id} over its memory budget: ${(breach.measuredBytes / MiB).toFixed(1)} MiB of ${(breach.limitBytes / MiB).toFixed(0)} MiB for ${breach.overForMs} ms; stopping it`, { pid: breach.pid })
          ctx.bus.emit('budget-breach', { ...figures, action: 'stop', reason: 'over-budget' })
          instance.condemn('over-budget')
        },
      })
      ctx.usage = id => sampler?.usage(id)
      ctx.events.on('module-spawned', onSpawned)
      ctx.events.on('module-exit', onExit)
      ctx.events.on('module-state', onState)
    },
    stop () {
      ctx.events.off('module-spawned', onSpawned)
      ctx.events.off('module-exit', onExit)
      ctx.events.off('module-state', onState)
      sampler?.stop()
    },
  }
}
