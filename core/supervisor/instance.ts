// One module instance under supervision: runs the policy's effects (spawn, kill, timers, state publication)
// in this one place. The decisions themselves are made by the pure policy in policy.ts.
import type { ModuleProcess, SpawnRequest, ExitInfo, LineHandler } from '../modules/spawn.js'
import { spawnModule } from '../modules/spawn.js'
import { initialState, recordedReason, step } from './policy.js'
import type { Effect, ExitReason, ModuleRunState, RecordedReason, RestartPolicy, SupervisorEvent, TimerName } from './policy.js'

export interface InstanceHooks {
  /** builds a fresh spawn request (new credential, current config) for every spawn */
  prepare (): SpawnRequest
  onLine: LineHandler
  onSpawned? (process: ModuleProcess): void
  /** a reason only the caller can know (the kernel's OOM killer), else undefined */
  classifyExit? (exit: ExitInfo): ExitReason | undefined
  /** `reason` is the one the exit is recorded with in the state (exit code 125: `permanent`) */
  onExit? (process: ModuleProcess, exit: ExitInfo, reason: RecordedReason): void
  /** after the process exited: clears what it left (its cgroup and anything still in it); the exit counts once this settles */
  cleanup? (): Promise<void>
  onState (state: ModuleRunState): void
}

export interface Instance {
  readonly instance: number
  readonly state: ModuleRunState
  readonly process: ModuleProcess | undefined
  start (): void
  /** resolves once the instance is stopped */
  stop (): Promise<void>
  reset (): void
  ready (): void
  /** an external finding that ends the process: over-budget, oom, hung */
  condemn (reason: 'over-budget' | 'hung'): void
  /** its broker connection is gone (or it said offline) while its process lives: restarted after a grace */
  disconnected (): void
  /** resolves once the instance is running, failed or stopped */
  whenSettled (): Promise<void>
}

const SETTLED = new Set(['running', 'failed', 'stopped'])

export function createInstance (instance: number, policy: () => RestartPolicy, hooks: InstanceHooks, clock: { now: () => number, random: () => number } = { now: Date.now, random: Math.random }): Instance {
  // stopped since it was made: a never-started instance's `since` is when the gateway set it up, not the epoch
  let state = initialState(clock.now())
  let current: ModuleProcess | undefined
  const timers = new Map<TimerName, NodeJS.Timeout>()
  let stopWaiters: Array<() => void> = []
  let settleWaiters: Array<() => void> = []

  const dispatch = (event: SupervisorEvent): void => {
    const result = step(state, event, { now: clock.now(), random: clock.random, policy: policy() })
    state = result.state
    for (const effect of result.effects) run(effect)
    if (state.status === 'stopped' || state.status === 'failed') {
      const waiters = stopWaiters
      stopWaiters = []
      for (const resolve of waiters) resolve()
    }
    if (SETTLED.has(state.status)) {
      const waiters = settleWaiters
      settleWaiters = []
      for (const resolve of waiters) resolve()
    }
  }

  const spawn = (): void => {
    let request: SpawnRequest
    try {
      request = hooks.prepare()
    } catch (err) {
      hooks.onLine('error', `cannot prepare spawn: ${(err as Error).message}`)
      setImmediate(() => dispatch({ type: 'exit', code: 127, signal: null, reason: 'exit-code' }))
      return
    }
    const child = spawnModule(request, hooks.onLine)
    current = child
    hooks.onSpawned?.(child)
    dispatch({ type: 'spawned', pid: child.pid })
    child.exited.then(async exit => {
      if (current !== child) return
      current = undefined
      const reason: ExitReason = hooks.classifyExit?.(exit) ?? (exit.signal !== null ? 'signal' : 'exit-code')
      hooks.onExit?.(child, exit, recordedReason(state, reason, exit.code))
      // nothing of this run may outlive it: not its process group, not what left the group (setsid), and
      // a stop or restart completes only once all of it is gone
      child.reap()
      await hooks.cleanup?.()
      dispatch({ type: 'exit', code: exit.code, signal: exit.signal, reason })
    })
  }

  const run = (effect: Effect): void => {
    switch (effect.type) {
      case 'spawn':
        spawn()
        break
      case 'kill':
        current?.signal(effect.signal)
        break
      case 'schedule': {
        clearTimeout(timers.get(effect.timer))
        const timer = setTimeout(() => {
          timers.delete(effect.timer)
          dispatch({ type: 'timer', timer: effect.timer })
        }, effect.afterMs)
        timers.set(effect.timer, timer)
        break
      }
      case 'cancel':
        clearTimeout(timers.get(effect.timer))
        timers.delete(effect.timer)
        break
      case 'publish-state':
        hooks.onState(state)
        break
    }
  }

  return {
    instance,
    get state () { return state },
    get process () { return current },
    start: () => dispatch({ type: 'start' }),
    stop () {
      if (state.status === 'stopped' || state.status === 'failed') {
        if (state.status === 'failed') dispatch({ type: 'stop' })
        return Promise.resolve()
      }
      const settled = new Promise<void>(resolve => stopWaiters.push(resolve))
      dispatch({ type: 'stop' })
      return settled
    },
    reset: () => dispatch({ type: 'reset' }),
    ready: () => dispatch({ type: 'ready' }),
    condemn (reason) {
      if (current === undefined) return
      dispatch(reason === 'hung' ? { type: 'hang' } : { type: 'budget-breach' })
    },
    disconnected () {
      if (current !== undefined) dispatch({ type: 'disconnected' })
    },
    whenSettled () {
      if (SETTLED.has(state.status)) return Promise.resolve()
      return new Promise<void>(resolve => settleWaiters.push(resolve))
    },
  }
}
