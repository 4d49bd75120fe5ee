// The restart policy as a pure state machine, s6/OTP style: step(state, event) → (state, effects), looked
// up in one table, `actions[status][event]`. No timers and no I/O here: effects are data, run in one place
// (instance.ts), so a test drives the whole policy with plain numbers for a clock. docs/supervision.md.
import { checkIntensity } from './intensity.js'
import type { Intensity } from './intensity.js'

export type Status = 'stopped' | 'starting' | 'running' | 'stopping' | 'backoff' | 'failed'
export type TimerName = 'backoff' | 'stable' | 'stop-timeout' | 'ready-timeout' | 'disconnect-grace'
export type ExitReason = 'exit-code' | 'signal' | 'over-budget' | 'oom' | 'hung' | 'ready-timeout' | 'disconnected' | 'stopped'

export interface RestartPolicy {
  restart: 'always' | 'on-failure' | 'never'
  backoff: { initialMs: number, factor: number, maxMs: number, jitter: number }
  /** uptime after which the backoff starts again from initialMs */
  stableAfterMs: number
  /** crash-loop protection: more than maxRestarts within windowMs → failed, until an operator resets it */
  intensity: Intensity
  /** SIGTERM, then SIGKILL after this long */
  stopTimeoutMs: number
  /** spawned but not ready after this long: killed and restarted */
  readyTimeoutMs: number
  /** a running module whose broker connection is gone while its process lives: killed after this long */
  disconnectGraceMs: number
}

// Chosen for an unattended gateway (peers in docs/supervision.md):
// - restart 'always': a module is a service; a clean exit nobody asked for is still an outage (a driver
//   whose port closed "gracefully"), and the intensity limit still ends a module that keeps exiting 0.
// - backoff from 100 ms (Azure IoT Edge waits 10 s): a relay driver that blips is back before anyone notices,
//   doubling to 30 s so a broken module costs little; ±20% jitter spreads modules that failed together
//   (a shared device vanished) so they do not restart in lock-step.
// - a crash loop is more than 10 restarts in 120 s: with this backoff the verdict comes after ≈ 80 s of
//   retrying (0.1 + 0.2 + … + 25.6 + 30 s), long enough for a USB adapter to re-enumerate or a network to
//   come back, short enough not to flood the log and flash for hours. With a 30 s cap the window must be
//   well over 30 s × maxRestarts / 3, or slow loops never add up.
// - 60 s of uptime forgives earlier failures: the next crash restarts fast again.
// - 5 s to stop: drivers must release hardware promptly; a stop stuck longer is SIGKILLed.
// - 15 s to report ready: node with the SDK starts in ≈ 0.25 s here and ≈ 10× slower on a Pi Zero, and
//   at boot modules compete for one core.
// - 10 s without a broker connection while the process lives: long enough for a client library that
//   reconnects by itself (paho waits 1, 2, 4 s) to come back, short enough that calls do not fail for long.
export const DEFAULT_POLICY: RestartPolicy = {
  restart: 'always',
  backoff: { initialMs: 100, factor: 2, maxMs: 30_000, jitter: 0.2 },
  stableAfterMs: 60_000,
  intensity: { maxRestarts: 10, windowMs: 120_000 },
  stopTimeoutMs: 5_000,
  readyTimeoutMs: 15_000,
  disconnectGraceMs: 10_000,
}

/** Exit code 125 means "permanent failure, do not restart" (the s6 convention). */
export const PERMANENT_FAILURE_EXIT = 125

export interface ExitRecord {
  at: number
  code: number | null
  signal: string | null
  reason: RecordedReason | 'crash-loop'
}

/** why a process ended, as recorded in its state and said in its log line: exit code 125 is `permanent` */
export type RecordedReason = ExitReason | 'permanent'

export interface ModuleRunState {
  status: Status
  /** when the status last changed */
  since: number
  pid: number | null
  /** restarts the supervisor made (not operator starts) */
  restarts: number
  /** consecutive failures since the last stable run: the backoff exponent */
  attempt: number
  /** times of recent restarts, for the crash-loop window */
  recentRestarts: number[]
  /** whether the current run has said ready */
  readyThisRun: boolean
  /**
   * consecutive runs that ended before saying ready: they count toward the crash loop without a window,
   * since each lasts up to readyTimeoutMs and a window would never hold enough of them
   */
  unready: number
  /** the last EXIT_HISTORY exits, oldest first; a crash-loop verdict is a record of its own after the exit */
  exits: ExitRecord[]
  /** why the instance is failed, when it is */
  failure: string | null
  /** what the operator asked for: an exit while 'down' is a stop, not a crash */
  wanted: 'up' | 'down'
  /** why the supervisor is killing the process, so its exit is recorded for that reason */
  killReason: ExitReason | null
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
  /** the module's broker connection is gone (or it said offline) while its process lives */
  | { type: 'disconnected' }

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
  return { status: 'stopped', since: now, pid: null, restarts: 0, attempt: 0, recentRestarts: [], readyThisRun: false, unready: 0, exits: [], failure: null, wanted: 'down', killReason: null }
}

export function backoffDelay (attempt: number, policy: RestartPolicy, random: () => number): number {
  const { initialMs, factor, maxMs, jitter } = policy.backoff
  const base = Math.min(maxMs, initialMs * factor ** attempt)
  return Math.round(base * (1 - jitter + 2 * jitter * random()))
}

export function describeExit (exit: { code: number | null, signal: string | null, reason: string }): string {
  if (exit.reason !== 'exit-code' && exit.reason !== 'signal') return exit.reason
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`
}

// ── actions ──

type ExitEvent = Extract<SupervisorEvent, { type: 'exit' }>
type Action = (state: ModuleRunState, event: never, ctx: StepContext) => StepResult

const enter = (state: ModuleRunState, status: Status, now: number, extra: Partial<ModuleRunState> = {}): ModuleRunState =>
  ({ ...state, ...extra, status, since: now })

const cancelRunTimers: Effect[] = [{ type: 'cancel', timer: 'stable' }, { type: 'cancel', timer: 'ready-timeout' }, { type: 'cancel', timer: 'disconnect-grace' }]

function spawnNow (state: ModuleRunState, now: number, extra: Partial<ModuleRunState> = {}, before: Effect[] = []): StepResult {
  return { state: enter(state, 'starting', now, { ...extra, wanted: 'up', killReason: null, readyThisRun: false }), effects: [...before, { type: 'spawn' }, { type: 'publish-state' }] }
}

/** operator start from stopped, or reset from failed: a fresh start, earlier failures forgotten */
const fresh: Action = (state, _event, { now }) => spawnNow(state, now, { attempt: 0, recentRestarts: [], unready: 0, failure: null })

const spawned = (state: ModuleRunState, event: Extract<SupervisorEvent, { type: 'spawned' }>, { policy }: StepContext): StepResult =>
  ({ state: { ...state, pid: event.pid }, effects: [{ type: 'schedule', timer: 'ready-timeout', afterMs: policy.readyTimeoutMs }] })

const ready: Action = (state, _event, { now, policy }) => ({
  state: enter(state, 'running', now, { readyThisRun: true, unready: 0 }),
  effects: [{ type: 'cancel', timer: 'ready-timeout' }, { type: 'schedule', timer: 'stable', afterMs: policy.stableAfterMs }, { type: 'publish-state' }],
})

/** connection gone, process alive: a client that reconnects by itself gets the grace to do it */
const disconnected: Action = (state, _event, { policy }) =>
  ({ state, effects: [{ type: 'schedule', timer: 'disconnect-grace', afterMs: policy.disconnectGraceMs }] })

/** ready again on a new connection, from the same process, within the grace */
const reconnected: Action = (state) => ({ state, effects: [{ type: 'cancel', timer: 'disconnect-grace' }] })

/** a run this long forgives earlier failures: the next crash restarts fast again */
const forgive: Action = (state) => ({ state: { ...state, attempt: 0 }, effects: [] })

function terminate (state: ModuleRunState, reason: ExitReason, { now, policy }: StepContext): StepResult {
  return {
    state: enter(state, 'stopping', now, { killReason: reason }),
    effects: [
      { type: 'kill', signal: 'SIGTERM', reason },
      ...cancelRunTimers,
      { type: 'schedule', timer: 'stop-timeout', afterMs: policy.stopTimeoutMs },
      { type: 'publish-state' },
    ],
  }
}

const condemn = (reason: ExitReason): Action => (state, _event, ctx) => terminate(state, reason, ctx)

/** a hung event loop cannot run a SIGTERM handler: waiting out the stop timeout would only lengthen the outage */
const killHung: Action = (state, _event, { now }) => ({
  state: enter(state, 'stopping', now, { killReason: 'hung' }),
  effects: [{ type: 'kill', signal: 'SIGKILL', reason: 'hung' }, ...cancelRunTimers, { type: 'publish-state' }],
})

const operatorStop: Action = (state, _event, ctx) => terminate({ ...state, wanted: 'down' }, 'stopped', ctx)

/** escalation: the process ignored SIGTERM past the stop timeout, or grows past its budget while stopping */
const killNow: Action = (state) => ({ state, effects: [{ type: 'kill', signal: 'SIGKILL' }] })

const stopWaiting: Action = (state, _event, { now }) => ({
  state: enter(state, 'stopped', now, { wanted: 'down', failure: null }),
  effects: [{ type: 'cancel', timer: 'backoff' }, { type: 'publish-state' }],
})

const restartAfterBackoff: Action = (state, _event, { now }) =>
  spawnNow(state, now, { restarts: state.restarts + 1, recentRestarts: [...state.recentRestarts, now] })

/** an operator start while waiting out a backoff: go now, but keep the backoff exponent */
const startNow: Action = (state, _event, { now }) => spawnNow(state, now, {}, [{ type: 'cancel', timer: 'backoff' }])

/** an operator start while a stop is in progress: restart once the process is gone */
const restartWhenGone: Action = (state) => ({ state: { ...state, wanted: 'up' }, effects: [] })

const keepDown: Action = (state) => ({ state: { ...state, wanted: 'down' }, effects: [] })

/** Why a process ended: how it reacted to our kill (an exit code, SIGTERM) is less telling than why we killed it. */
export function exitReason (state: Pick<ModuleRunState, 'killReason'>, observed: ExitReason): ExitReason {
  return state.killReason !== null && (observed === 'exit-code' || observed === 'signal') ? state.killReason : observed
}

/** the reason an exit is recorded with: `exitReason`, except that an exit with code 125 is `permanent` */
export function recordedReason (state: Pick<ModuleRunState, 'killReason'>, observed: ExitReason, code: number | null): RecordedReason {
  const reason = exitReason(state, observed)
  return reason === 'exit-code' && code === PERMANENT_FAILURE_EXIT ? 'permanent' : reason
}

function exited (state: ModuleRunState, event: ExitEvent, ctx: StepContext): StepResult {
  const { now, policy } = ctx
  const reason = recordedReason(state, event.reason, event.code)
  const effects: Effect[] = [...cancelRunTimers, { type: 'cancel', timer: 'stop-timeout' }]
  const record = (recorded: ExitRecord['reason']): ExitRecord => ({ at: now, code: event.code, signal: event.signal, reason: recorded })
  const gone = (recorded: ExitRecord['reason'], extra: Partial<ModuleRunState> = {}, verdict: ExitRecord[] = []): Partial<ModuleRunState> => ({
    pid: null,
    killReason: null,
    exits: [...state.exits, record(recorded), ...verdict].slice(-EXIT_HISTORY),
    ...extra,
  })
  const settle = (status: Status, extra: Partial<ModuleRunState>): StepResult =>
    ({ state: enter(state, status, now, extra), effects: [...effects, { type: 'publish-state' }] })

  if (state.wanted === 'down') return settle('stopped', gone(reason))
  if (reason === 'stopped') return spawnNow({ ...state, ...gone(reason) }, now, {}, effects)
  if (reason === 'permanent') {
    return settle('failed', gone(reason, { failure: `exited with code ${PERMANENT_FAILURE_EXIT}: permanent failure, not restarted` }))
  }
  const failure = reason !== 'exit-code' || event.code !== 0
  if (policy.restart === 'never' || (policy.restart === 'on-failure' && !failure)) return settle('stopped', gone(reason, { wanted: 'down' }))
  const { recent, exceeded } = checkIntensity(state.recentRestarts, now, policy.intensity)
  const unready = state.readyThisRun ? 0 : state.unready + 1
  if (exceeded || unready > policy.intensity.maxRestarts) {
    const last = describeExit({ ...event, reason })
    const why = exceeded
      ? `crash loop: ${recent.length + 1} failures within ${policy.intensity.windowMs} ms (last: ${last})`
      : `crash loop: ${unready} starts in a row never became ready (last: ${last})`
    // the exit keeps its own reason; the verdict follows it, so the last record says why nothing restarts
    return settle('failed', gone(reason, { recentRestarts: recent, unready, failure: why }, [record('crash-loop')]))
  }
  const delay = backoffDelay(state.attempt, policy, ctx.random)
  return {
    state: enter(state, 'backoff', now, gone(reason, { recentRestarts: recent, unready, attempt: state.attempt + 1 })),
    effects: [...effects, { type: 'schedule', timer: 'backoff', afterMs: delay }, { type: 'publish-state' }],
  }
}

// ── the table: what each event does in each state; anything not listed is ignored ──

type EventKey = Exclude<SupervisorEvent['type'], 'timer'> | `timer:${TimerName}`

const actions: Record<Status, Partial<Record<EventKey, Action>>> = {
  stopped: { start: fresh },
  starting: {
    spawned,
    ready,
    exit: exited,
    stop: operatorStop,
    'budget-breach': condemn('over-budget'),
    hang: killHung,
    'timer:ready-timeout': condemn('ready-timeout'),
  },
  running: {
    exit: exited,
    stop: operatorStop,
    'budget-breach': condemn('over-budget'),
    hang: killHung,
    disconnected,
    ready: reconnected,
    'timer:disconnect-grace': condemn('disconnected'),
    'timer:stable': forgive,
  },
  stopping: {
    exit: exited,
    start: restartWhenGone,
    stop: keepDown,
    'budget-breach': killNow,
    'timer:stop-timeout': killNow,
  },
  backoff: { 'timer:backoff': restartAfterBackoff, start: startNow, stop: stopWaiting },
  failed: { reset: fresh, stop: stopWaiting },
}

export function step (state: ModuleRunState, event: SupervisorEvent, ctx: StepContext): StepResult {
  const key: EventKey = event.type === 'timer' ? `timer:${event.timer}` : event.type
  const action = actions[state.status][key]
  return action === undefined ? { state, effects: [] } : action(state, event as never, ctx)
}
