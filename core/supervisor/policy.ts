// The restart policy as a pure state machine, s6/OTP style: step(state, event) → (state, effects).
// No timers and no I/O here: effects are data, run in one place (instance.ts), so a test drives the
// whole policy with plain numbers for a clock.

export type Status = 'stopped' | 'starting' | 'running' | 'stopping' | 'backoff' | 'failed'
export type TimerName = 'backoff' | 'stable' | 'stop-timeout' | 'ready-timeout'
export type ExitReason = 'exit-code' | 'signal' | 'over-budget' | 'oom' | 'hung' | 'ready-timeout' | 'stopped'

export interface RestartPolicy {
  restart: 'always' | 'on-failure' | 'never'
  backoff: { initialMs: number, factor: number, maxMs: number, jitter: number }
  /** uptime after which the backoff starts again from initialMs */
  stableAfterMs: number
  /** crash-loop protection: more than maxRestarts within windowMs → failed, until an operator resets it */
  intensity: { maxRestarts: number, windowMs: number }
  stopTimeoutMs: number
  readyTimeoutMs: number
}

// A gateway wants a fast first retry (a relay driver that blips should be back before anyone notices),
// unlike Azure IoT Edge's 10 s or Greengrass's: 100 ms, doubling to at most 30 s. Five restarts in a
// minute is a crash loop: past that, restarting only burns the board's CPU and flash, so stop and say so.
export const DEFAULT_POLICY: RestartPolicy = {
  restart: 'on-failure',
  backoff: { initialMs: 100, factor: 2, maxMs: 30_000, jitter: 0.2 },
  stableAfterMs: 60_000,
  intensity: { maxRestarts: 5, windowMs: 60_000 },
  stopTimeoutMs: 5_000,
  readyTimeoutMs: 10_000,
}

/** Exit code 125 means "permanent failure, do not restart" (the s6 convention). */
export const PERMANENT_FAILURE_EXIT = 125

export interface ExitRecord {
  at: number
  code: number | null
  signal: string | null
  reason: ExitReason | 'crash-loop' | 'permanent'
}

export interface ModuleRunState {
  status: Status
  since: number
  pid: number | null
  /** restarts the supervisor made (not operator starts) */
  restarts: number
  /** consecutive failures since the last stable run: the backoff exponent */
  attempt: number
  /** times of recent restarts, for the crash-loop window */
  recentRestarts: number[]
  exits: ExitRecord[]
  /** why the instance is failed, when it is */
  failure: string | null
  /** set while an operator stop is in progress, so the exit is not treated as a crash */
  wanted: 'up' | 'down'
}

export type SupervisorEvent =
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'reset' }
  | { type: 'spawned', pid: number }
  | { type: 'ready' }
  | { type: 'exit', code: number | null, signal: string | null, reason: ExitReason }
  | { type: 'timer', timer: TimerName }
  | { type: 'budget-breach' }
  | { type: 'hang' }

export type Effect =
  | { type: 'spawn' }
  | { type: 'kill', signal: 'SIGTERM' | 'SIGKILL', reason?: ExitReason }
  | { type: 'schedule', timer: TimerName, afterMs: number }
  | { type: 'cancel', timer: TimerName }
  | { type: 'publish-state' }

export interface StepContext {
  now: number
  random: () => number
  policy: RestartPolicy
}

export interface StepResult {
  state: ModuleRunState
  effects: Effect[]
}

const EXIT_HISTORY = 20

export function initialState (now = 0): ModuleRunState {
  return { status: 'stopped', since: now, pid: null, restarts: 0, attempt: 0, recentRestarts: [], exits: [], failure: null, wanted: 'down' }
}

export function backoffDelay (attempt: number, policy: RestartPolicy, random: () => number): number {
  const { initialMs, factor, maxMs, jitter } = policy.backoff
  const base = Math.min(maxMs, initialMs * factor ** attempt)
  // jitter spreads restarts of modules that failed together (e.g. after a shared device vanished)
  return Math.round(base * (1 - jitter + 2 * jitter * random()))
}

function isFailure (event: Extract<SupervisorEvent, { type: 'exit' }>): boolean {
  return event.reason !== 'exit-code' || event.code !== 0
}

function enter (state: ModuleRunState, status: Status, now: number, extra: Partial<ModuleRunState> = {}): ModuleRunState {
  return { ...state, ...extra, status, since: now }
}

function recordExit (state: ModuleRunState, record: ExitRecord): ExitRecord[] {
  return [...state.exits, record].slice(-EXIT_HISTORY)
}

function onExit (state: ModuleRunState, event: Extract<SupervisorEvent, { type: 'exit' }>, ctx: StepContext): StepResult {
  const { now, policy } = ctx
  const cancelAll: Effect[] = [{ type: 'cancel', timer: 'stable' }, { type: 'cancel', timer: 'stop-timeout' }, { type: 'cancel', timer: 'ready-timeout' }]
  const base = { at: now, code: event.code, signal: event.signal }
  if (state.wanted === 'down') {
    const exits = recordExit(state, { ...base, reason: 'stopped' })
    return { state: enter(state, 'stopped', now, { pid: null, exits }), effects: [...cancelAll, { type: 'publish-state' }] }
  }
  if (event.reason === 'exit-code' && event.code === PERMANENT_FAILURE_EXIT) {
    const exits = recordExit(state, { ...base, reason: 'permanent' })
    return { state: enter(state, 'failed', now, { pid: null, exits, failure: `exited with code ${PERMANENT_FAILURE_EXIT}: permanent failure, not restarted` }), effects: [...cancelAll, { type: 'publish-state' }] }
  }
  const restart = policy.restart === 'always' || (policy.restart === 'on-failure' && isFailure(event))
  if (!restart) {
    const exits = recordExit(state, { ...base, reason: event.reason })
    return { state: enter(state, 'stopped', now, { pid: null, exits, wanted: 'down' }), effects: [...cancelAll, { type: 'publish-state' }] }
  }
  const recentRestarts = state.recentRestarts.filter(t => now - t < policy.intensity.windowMs)
  if (recentRestarts.length >= policy.intensity.maxRestarts) {
    const exits = recordExit(recordExitState(state, { ...base, reason: event.reason }), { ...base, reason: 'crash-loop' })
    const failure = `crash loop: ${recentRestarts.length + 1} failures within ${policy.intensity.windowMs} ms (last: ${describeExit(event)})`
    return { state: enter(state, 'failed', now, { pid: null, exits, recentRestarts, failure }), effects: [...cancelAll, { type: 'publish-state' }] }
  }
  const exits = recordExit(state, { ...base, reason: event.reason })
  const delay = backoffDelay(state.attempt, policy, ctx.random)
  return {
    state: enter(state, 'backoff', now, { pid: null, exits, recentRestarts, attempt: state.attempt + 1 }),
    effects: [...cancelAll, { type: 'schedule', timer: 'backoff', afterMs: delay }, { type: 'publish-state' }],
  }
}

function recordExitState (state: ModuleRunState, record: ExitRecord): ModuleRunState {
  return { ...state, exits: recordExit(state, record) }
}

export function describeExit (exit: { code: number | null, signal: string | null, reason: string }): string {
  if (exit.reason !== 'exit-code' && exit.reason !== 'signal') return exit.reason
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`
}

function spawnNow (state: ModuleRunState, now: number, extra: Partial<ModuleRunState> = {}): StepResult {
  return { state: enter(state, 'starting', now, { ...extra, wanted: 'up' }), effects: [{ type: 'spawn' }, { type: 'publish-state' }] }
}

function kill (state: ModuleRunState, reason: ExitReason, ctx: StepContext): StepResult {
  return {
    state: enter(state, 'stopping', ctx.now),
    effects: [
      { type: 'kill', signal: 'SIGTERM', reason },
      { type: 'schedule', timer: 'stop-timeout', afterMs: ctx.policy.stopTimeoutMs },
      { type: 'publish-state' },
    ],
  }
}

export function step (state: ModuleRunState, event: SupervisorEvent, ctx: StepContext): StepResult {
  const { now, policy } = ctx
  const none: StepResult = { state, effects: [] }
  switch (event.type) {
    case 'start':
      if (state.status === 'stopped') return spawnNow(state, now, { attempt: 0 })
      if (state.status === 'backoff') return { ...spawnNow(state, now), effects: [{ type: 'cancel', timer: 'backoff' }, { type: 'spawn' }, { type: 'publish-state' }] }
      return none
    case 'reset':
      if (state.status !== 'failed') return none
      return spawnNow(state, now, { attempt: 0, recentRestarts: [], failure: null })
    case 'stop':
      if (state.status === 'backoff' || state.status === 'failed') {
        return { state: enter(state, 'stopped', now, { wanted: 'down', failure: null }), effects: [{ type: 'cancel', timer: 'backoff' }, { type: 'publish-state' }] }
      }
      if (state.status === 'starting' || state.status === 'running') {
        const result = kill({ ...state, wanted: 'down' }, 'stopped', ctx)
        return { state: result.state, effects: [{ type: 'cancel', timer: 'ready-timeout' }, { type: 'cancel', timer: 'stable' }, ...result.effects] }
      }
      return state.status === 'stopping' ? { state: { ...state, wanted: 'down' }, effects: [] } : none
    case 'spawned':
      if (state.status !== 'starting') return none
      return { state: { ...state, pid: event.pid }, effects: [{ type: 'schedule', timer: 'ready-timeout', afterMs: policy.readyTimeoutMs }] }
    case 'ready':
      if (state.status !== 'starting') return none
      return {
        state: enter(state, 'running', now),
        effects: [{ type: 'cancel', timer: 'ready-timeout' }, { type: 'schedule', timer: 'stable', afterMs: policy.stableAfterMs }, { type: 'publish-state' }],
      }
    case 'exit':
      return onExit(state, event, ctx)
    case 'budget-breach':
      return state.status === 'starting' || state.status === 'running' ? kill(state, 'over-budget', ctx) : none
    case 'hang':
      // a hung event loop cannot run a SIGTERM handler: kill outright
      if (state.status !== 'starting' && state.status !== 'running') return none
      return { state: enter(state, 'stopping', now), effects: [{ type: 'kill', signal: 'SIGKILL', reason: 'hung' }, { type: 'publish-state' }] }
    case 'timer':
      switch (event.timer) {
        case 'backoff':
          if (state.status !== 'backoff') return none
          return spawnNow(state, now, { restarts: state.restarts + 1, recentRestarts: [...state.recentRestarts, now] })
        case 'stable':
          // a run this long forgives earlier failures: the next crash restarts fast again
          return state.status === 'running' ? { state: { ...state, attempt: 0 }, effects: [] } : none
        case 'ready-timeout':
          return state.status === 'starting' ? kill(state, 'ready-timeout', ctx) : none
        case 'stop-timeout':
          return state.status === 'stopping' ? { state, effects: [{ type: 'kill', signal: 'SIGKILL' }] } : none
      }
  }
}
