// The gateway's modules: their specs, their supervised instances, start order by `after`, stop in reverse.
import { OutpostError } from '../errors.js'
import type { LoadedModule } from '../manifest/load.js'
import { createInstance } from '../supervisor/instance.js'
import type { Instance, InstanceHooks } from '../supervisor/instance.js'
import type { ModuleRunState, RestartPolicy } from '../supervisor/policy.js'

export interface ModuleRuntime {
  loaded: LoadedModule
  instances: Instance[]
}

export interface ModuleTableContext {
  policyOf (loaded: LoadedModule): RestartPolicy
  hooksFor (runtime: ModuleRuntime, instance: number): InstanceHooks
  onState (runtime: ModuleRuntime, instance: number, state: ModuleRunState): void
}

export interface ModuleTable {
  get (name: string): ModuleRuntime | undefined
  require (name: string): ModuleRuntime
  list (): ModuleRuntime[]
  add (loaded: LoadedModule): ModuleRuntime
  remove (name: string): Promise<void>
  /** starts one module's instances; resolves when each is running, failed or stopped */
  start (name: string): Promise<void>
  stop (name: string): Promise<void>
  /** starts enabled modules, each after the modules it names in `after` have settled */
  startAll (): Promise<void>
  /** stops every module, dependents before their dependencies */
  stopAll (): Promise<void>
  /** the gateway is stopping: from now on `start` refuses (UNAVAILABLE) and `startAll` starts nothing more */
  close (): void
  readonly closed: boolean
}

export function createModuleTable (ctx: ModuleTableContext): ModuleTable {
  const modules = new Map<string, ModuleRuntime>()
  let closed = false

  const table: ModuleTable = {
    get: name => modules.get(name),
    require (name) {
      const runtime = modules.get(name)
      if (runtime === undefined) throw new OutpostError('NO_SUCH_MODULE', `no module named "${name}" (modules: ${[...modules.keys()].join(', ') || 'none'})`)
      return runtime
    },
    list: () => [...modules.values()],

    add (loaded) {
      const runtime: ModuleRuntime = { loaded, instances: [] }
      for (let i = 0; i < loaded.spec.instances; i++) {
        const hooks = ctx.hooksFor(runtime, i)
        const onState = hooks.onState
        runtime.instances.push(createInstance(i, () => ctx.policyOf(runtime.loaded), {
          ...hooks,
          onState: state => {
            onState(state)
            ctx.onState(runtime, i, state)
          },
        }))
      }
      modules.set(loaded.spec.name, runtime)
      return runtime
    },

    async remove (name) {
      await table.stop(name)
      modules.delete(name)
    },

    async start (name) {
      if (closed) throw new OutpostError('UNAVAILABLE', `cannot start ${name}: gateway stopping`)
      const runtime = table.require(name)
      for (const instance of runtime.instances) instance.start()
      await Promise.all(runtime.instances.map(instance => instance.whenSettled()))
    },

    async stop (name) {
      const runtime = table.require(name)
      await Promise.all(runtime.instances.map(instance => instance.stop()))
    },

    async startAll () {
      const started = new Map<string, Promise<void>>()
      const startOne = (runtime: ModuleRuntime): Promise<void> => {
        const name = runtime.loaded.spec.name
        let promise = started.get(name)
        if (promise === undefined) {
          const deps = runtime.loaded.spec.after.map(dep => modules.get(dep)).filter((d): d is ModuleRuntime => d !== undefined)
          // a stop during boot: what waited on its dependencies starts no more
          promise = Promise.all(deps.map(startOne)).then(() => (closed ? undefined : table.start(name)))
          started.set(name, promise)
        }
        return promise
      }
      await Promise.all([...modules.values()].filter(r => r.loaded.spec.enabled).map(startOne))
    },

    async stopAll () {
      const stopped = new Map<string, Promise<void>>()
      const dependents = (name: string): ModuleRuntime[] => [...modules.values()].filter(r => r.loaded.spec.after.includes(name))
      const stopOne = (runtime: ModuleRuntime): Promise<void> => {
        const name = runtime.loaded.spec.name
        let promise = stopped.get(name)
        if (promise === undefined) {
          promise = Promise.all(dependents(name).map(stopOne)).then(() => table.stop(name))
          stopped.set(name, promise)
        }
        return promise
      }
      // reverse manifest order among independent modules, dependents always first
      await Promise.all([...modules.values()].reverse().map(stopOne))
    },

    close () {
      closed = true
    },
    get closed () { return closed },
  }
  return table
}
