// The restart policy state machine, driven by a plain-number clock: no timers, no processes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { initialState, step, backoffDelay, DEFAULT_POLICY } from '../../core/supervisor/policy.js'
import type { ModuleRunState, RestartPolicy, SupervisorEvent, Effect } from '../../core/supervisor/policy.js'

const policy: RestartPolicy = { ...DEFAULT_POLICY, backoff: { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 }, intensity: { maxRestarts: 3, windowMs: 10_000 }, stableAfterMs: 5000 }

function drive (events: Array<[number, SupervisorEvent]>, p = policy, random = () => 0.5): { state: ModuleRunState, effects: Effect[][] } {
  let state = initialState()
  const effects: Effect[][] = []
  for (const [now, event] of events) {
    const result = step(state, event, { now, random, policy: p })
    state = result.state
    effects.push(result.effects)
  }
  return { state, effects }
}

const crash: SupervisorEvent = { type: 'exit', code: 1, signal: null, reason: 'exit-code' }
const backoffOf = (effects: Effect[]): number | undefined => effects.find((e): e is Extract<Effect, { type: 'schedule' }> => e.type === 'schedule' && e.timer === 'backoff')?.afterMs

test('backoff doubles up to its maximum', () => {
  const p = { ...policy, intensity: { maxRestarts: 100, windowMs: 1 } }
  const delays: number[] = []
  let state = initialState()
  let now = 0
  for (const event of [{ type: 'start' }, { type: 'spawned', pid: 1 }, { type: 'ready' }] as SupervisorEvent[]) state = step(state, event, { now, random: () => 0.5, policy: p }).state
  for (let i = 0; i < 6; i++) {
    now += 10
    const r = step(state, crash, { now, random: () => 0.5, policy: p })
    delays.push(backoffOf(r.effects) ?? -1)
    state = step(r.state, { type: 'timer', timer: 'backoff' }, { now: now + 1, random: () => 0.5, policy: p }).state
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000])
})

test('jitter stays within its bounds', () => {
  const p = { ...policy, backoff: { ...policy.backoff, jitter: 0.2 } }
  assert.equal(backoffDelay(0, p, () => 0), 80)
  assert.equal(backoffDelay(0, p, () => 1), 120)
  assert.equal(backoffDelay(3, p, () => 0.5), 800)
})

test('a stable run resets the backoff', () => {
  const { state } = drive([
    [0, { type: 'start' }], [1, { type: 'spawned', pid: 1 }], [2, { type: 'ready' }],
    [10, crash], [110, { type: 'timer', timer: 'backoff' }], [111, { type: 'spawned', pid: 2 }], [112, { type: 'ready' }],
  ])
  assert.equal(state.attempt, 1)
  const stable = step(state, { type: 'timer', timer: 'stable' }, { now: 5200, random: () => 0.5, policy })
  assert.equal(stable.state.attempt, 0)
  assert.equal(backoffOf(step(stable.state, crash, { now: 5300, random: () => 0.5, policy }).effects), 100)
})

test('more restarts than the intensity allows within the window is a crash loop: failed until reset', () => {
  const events: Array<[number, SupervisorEvent]> = [[0, { type: 'start' }]]
  let now = 0
  for (let i = 0; i < 4; i++) {
    events.push([++now, { type: 'spawned', pid: i }], [++now, crash])
    if (i < 3) events.push([now += 100, { type: 'timer', timer: 'backoff' }])
  }
  const { state } = drive(events)
  assert.equal(state.status, 'failed')
  assert.equal(state.exits.at(-1)?.reason, 'crash-loop')
  assert.match(state.failure ?? '', /crash loop: 4 failures within 10000 ms \(last: exit code 1\)/)
  assert.equal(step(state, { type: 'timer', timer: 'backoff' }, { now: now + 1000, random: () => 0.5, policy }).state.status, 'failed')
  const reset = step(state, { type: 'reset' }, { now: now + 2000, random: () => 0.5, policy })
  assert.equal(reset.state.status, 'starting')
  assert.deepEqual(reset.effects.map(e => e.type), ['spawn', 'publish-state'])
})

test('restarts spread beyond the window are not a crash loop', () => {
  const events: Array<[number, SupervisorEvent]> = [[0, { type: 'start' }]]
  let now = 0
  for (let i = 0; i < 6; i++) {
    events.push([now += 1, { type: 'spawned', pid: i }], [now += 4000, crash], [now += 100, { type: 'timer', timer: 'backoff' }])
  }
  assert.equal(drive(events).state.status, 'starting')
})

test('on-failure does not restart a clean exit; never restarts nothing; always restarts a clean exit', () => {
  const clean: SupervisorEvent = { type: 'exit', code: 0, signal: null, reason: 'exit-code' }
  const run = (p: RestartPolicy, exit: SupervisorEvent) => drive([[0, { type: 'start' }], [1, { type: 'spawned', pid: 1 }], [2, exit]], p).state.status
  assert.equal(run({ ...policy, restart: 'on-failure' }, clean), 'stopped')
  assert.equal(run({ ...policy, restart: 'on-failure' }, crash), 'backoff')
  assert.equal(run({ ...policy, restart: 'never' }, crash), 'stopped')
  assert.equal(run({ ...policy, restart: 'always' }, clean), 'backoff')
})

test('exit code 125 is a permanent failure', () => {
  const { state } = drive([[0, { type: 'start' }], [1, { type: 'spawned', pid: 1 }], [2, { type: 'exit', code: 125, signal: null, reason: 'exit-code' }]])
  assert.equal(state.status, 'failed')
  assert.match(state.failure ?? '', /permanent failure/)
})

test('stop during backoff cancels the timer; stop of a running module escalates to SIGKILL after the timeout', () => {
  const inBackoff = drive([[0, { type: 'start' }], [1, { type: 'spawned', pid: 1 }], [2, crash], [3, { type: 'stop' }]])
  assert.equal(inBackoff.state.status, 'stopped')
  assert.ok(inBackoff.effects.at(-1)?.some(e => e.type === 'cancel' && e.timer === 'backoff'))

  const running = drive([[0, { type: 'start' }], [1, { type: 'spawned', pid: 1 }], [2, { type: 'ready' }], [3, { type: 'stop' }], [5003, { type: 'timer', timer: 'stop-timeout' }]])
  assert.deepEqual(running.effects[3]?.find(e => e.type === 'kill'), { type: 'kill', signal: 'SIGTERM', reason: 'stopped' })
  assert.deepEqual(running.effects[4], [{ type: 'kill', signal: 'SIGKILL' }])
  const after = step(running.state, { type: 'exit', code: null, signal: 'SIGKILL', reason: 'signal' }, { now: 5004, random: () => 0.5, policy })
  assert.equal(after.state.status, 'stopped')
  assert.equal(after.state.exits.at(-1)?.reason, 'stopped')
})

test('no ready report within the ready timeout kills and restarts with reason ready-timeout', () => {
  const { state, effects } = drive([[0, { type: 'start' }], [1, { type: 'spawned', pid: 1 }], [10_001, { type: 'timer', timer: 'ready-timeout' }]])
  assert.equal(state.status, 'stopping')
  assert.deepEqual(effects[2]?.[0], { type: 'kill', signal: 'SIGTERM', reason: 'ready-timeout' })
  const exited = step(state, { type: 'exit', code: null, signal: 'SIGTERM', reason: 'ready-timeout' }, { now: 10_010, random: () => 0.5, policy })
  assert.equal(exited.state.status, 'backoff')
  assert.equal(exited.state.exits.at(-1)?.reason, 'ready-timeout')
})
