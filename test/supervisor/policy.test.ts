// The restart policy, driven through a tiny effect runner on a sinon fake clock: timers the policy
// schedules fire when the fake clock reaches them, and the "process" is whatever the test says it does.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import { initialState, step, backoffDelay, DEFAULT_POLICY } from '../../core/supervisor/policy.js'
import type { Effect, ExitReason, ModuleRunState, RestartPolicy, SupervisorEvent, TimerName } from '../../core/supervisor/policy.js'
import { checkIntensity } from '../../core/supervisor/intensity.js'

const base: RestartPolicy = {
  restart: 'on-failure',
  backoff: { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0.2 },
  stableAfterMs: 5000,
  intensity: { maxRestarts: 100, windowMs: 10_000 },
  stopTimeoutMs: 2000,
  readyTimeoutMs: 3000,
  disconnectGraceMs: 1000,
}

/** mulberry32: a seeded random, so a jittered run is the same every time */
function seeded (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Harness {
  readonly state: ModuleRunState
  clock: sinon.SinonFakeTimers
  spawns: number[]
  kills: Array<{ at: number, signal: string, reason?: ExitReason }>
  scheduled: Array<Extract<Effect, { type: 'schedule' }>>
  published: string[]
  send (event: SupervisorEvent): void
  /** the process the policy last spawned says it is ready */
  ready (): void
  exit (code: number | null, signal?: string | null, reason?: ExitReason): void
}

/** The one place effects run, like instance.ts: spawns are recorded (and report `spawned` at once), timers are fake. */
function harness (t: TestContext, policy: RestartPolicy, random = seeded(42)): Harness {
  const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout'] })
  t.after(() => clock.restore())
  let state = initialState()
  const timers = new Map<TimerName, ReturnType<typeof setTimeout>>()
  const queue: SupervisorEvent[] = []
  let busy = false
  let pid = 100
  const h: Harness = {
    get state () { return state },
    clock,
    spawns: [],
    kills: [],
    scheduled: [],
    published: [],
    send (event) {
      queue.push(event)
      if (busy) return
      busy = true
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const result = step(state, next, { now: clock.now, random, policy })
        state = result.state
        for (const effect of result.effects) run(effect)
      }
      busy = false
    },
    ready: () => h.send({ type: 'ready' }),
    exit: (code, signal = null, reason) => h.send({ type: 'exit', code, signal, reason: reason ?? (signal === null ? 'exit-code' : 'signal') }),
  }
  const run = (effect: Effect): void => {
    switch (effect.type) {
      case 'spawn':
        h.spawns.push(clock.now)
        queue.push({ type: 'spawned', pid: ++pid })
        break
      case 'kill':
        h.kills.push({ at: clock.now, signal: effect.signal, ...(effect.reason === undefined ? {} : { reason: effect.reason }) })
        break
      case 'schedule':
        h.scheduled.push(effect)
        clearTimeout(timers.get(effect.timer))
        timers.set(effect.timer, setTimeout(() => {
          timers.delete(effect.timer)
          h.send({ type: 'timer', timer: effect.timer })
        }, effect.afterMs))
        break
      case 'cancel':
        clearTimeout(timers.get(effect.timer))
        timers.delete(effect.timer)
        break
      case 'publish-state':
        h.published.push(state.status)
        break
    }
  }
  return h
}

const lastBackoff = (h: Harness): number => {
  const delay = h.scheduled.filter(s => s.timer === 'backoff').at(-1)?.afterMs
  assert.ok(delay !== undefined, 'a backoff was scheduled')
  return delay
}

/** crash, then let the fake clock run exactly to the scheduled restart; returns the delay */
function crashAndWait (h: Harness, code = 1): number {
  const spawnsBefore = h.spawns.length
  h.exit(code)
  assert.equal(h.state.status, 'backoff')
  const delay = lastBackoff(h)
  h.clock.tick(delay - 1)
  assert.equal(h.spawns.length, spawnsBefore, 'no restart before the backoff ends')
  h.clock.tick(1)
  assert.equal(h.spawns.length, spawnsBefore + 1, 'restarted when the backoff ends')
  return delay
}

test('backoff grows by its factor up to its maximum, each delay within the jitter bounds', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  const ratios: number[] = []
  for (let i = 0; i < 8; i++) {
    const nominal = Math.min(base.backoff.maxMs, base.backoff.initialMs * base.backoff.factor ** i)
    const delay = crashAndWait(h)
    assert.ok(delay >= nominal * 0.8 && delay <= nominal * 1.2, `restart ${i + 1}: ${delay} ms within ±20% of ${nominal} ms`)
    ratios.push(delay / nominal)
  }
  assert.ok(new Set(ratios).size > 1, 'jitter varies the delays')
  assert.equal(h.state.restarts, 8)
  assert.equal(h.state.exits.length, 8)
  assert.equal(backoffDelay(0, base, () => 0), 80)
  assert.equal(backoffDelay(0, base, () => 0.999_999), 120)
  assert.equal(backoffDelay(10, { ...base, backoff: { ...base.backoff, jitter: 0 } }, Math.random), 1000)
})

test('a run longer than stableAfterMs resets the backoff; a shorter one does not', (t) => {
  const p = { ...base, backoff: { ...base.backoff, jitter: 0 } }
  const h = harness(t, p)
  h.send({ type: 'start' })
  h.ready()
  assert.deepEqual([crashAndWait(h), crashAndWait(h), crashAndWait(h)], [100, 200, 400])
  h.ready()
  h.clock.tick(p.stableAfterMs - 1)
  assert.equal(crashAndWait(h), 800, 'not yet stable: the backoff keeps growing')
  h.ready()
  h.clock.tick(p.stableAfterMs)
  assert.equal(h.state.attempt, 0)
  assert.equal(crashAndWait(h), 100, 'stable: back to the first delay')
})

test('more restarts than the intensity allows within its window is a crash loop: failed until reset', (t) => {
  const p: RestartPolicy = { ...base, intensity: { maxRestarts: 3, windowMs: 10_000 } }
  const h = harness(t, p)
  h.send({ type: 'start' })
  for (let i = 0; i < 3; i++) crashAndWait(h)
  h.exit(null, 'SIGSEGV')
  assert.equal(h.state.status, 'failed')
  assert.deepEqual(h.state.exits.map(e => e.reason), ['exit-code', 'exit-code', 'exit-code', 'signal', 'crash-loop'])
  assert.match(h.state.failure ?? '', /^crash loop: 4 failures within 10000 ms \(last: signal SIGSEGV\)$/)
  assert.equal(h.clock.countTimers(), 0, 'nothing left to fire')
  h.clock.tick(3_600_000)
  h.send({ type: 'start' })
  assert.equal(h.state.status, 'failed', 'start does not clear a failure; reset does')
  assert.equal(h.spawns.length, 4)

  h.send({ type: 'reset' })
  assert.equal(h.state.status, 'starting')
  assert.equal(h.spawns.length, 5)
  assert.equal(h.state.failure, null)
  h.exit(1)
  assert.equal(h.state.status, 'backoff', 'the window starts afresh after a reset')
  assert.ok(lastBackoff(h) <= 120, 'and so does the backoff')
})

test('restarts spread wider than the window never add up to a crash loop', (t) => {
  const p: RestartPolicy = { ...base, intensity: { maxRestarts: 3, windowMs: 10_000 } }
  const h = harness(t, p)
  h.send({ type: 'start' })
  for (let i = 0; i < 10; i++) {
    h.ready()
    h.clock.tick(4000)
    crashAndWait(h)
  }
  assert.equal(h.state.status, 'starting')
  assert.equal(h.state.restarts, 10)
})

test('the intensity window on its own', () => {
  const intensity = { maxRestarts: 2, windowMs: 1000 }
  assert.deepEqual(checkIntensity([100, 900], 1000, intensity), { recent: [100, 900], exceeded: true })
  assert.deepEqual(checkIntensity([0, 900], 1000, intensity), { recent: [900], exceeded: false })
  assert.deepEqual(checkIntensity([], 0, { maxRestarts: 0, windowMs: 1000 }), { recent: [], exceeded: true })
})

test('what each restart mode does with a clean exit and with a failure', (t) => {
  const cases: Array<[RestartPolicy['restart'], number | null, string | null, string]> = [
    ['always', 0, null, 'backoff'],
    ['always', 1, null, 'backoff'],
    ['on-failure', 0, null, 'stopped'],
    ['on-failure', 1, null, 'backoff'],
    ['on-failure', null, 'SIGSEGV', 'backoff'],
    ['never', 0, null, 'stopped'],
    ['never', 1, null, 'stopped'],
  ]
  for (const [restart, code, signal, expected] of cases) {
    const h = harness(t, { ...base, restart })
    h.send({ type: 'start' })
    h.ready()
    h.exit(code, signal)
    assert.equal(h.state.status, expected, `${restart} after ${signal ?? `exit ${code}`}`)
    assert.equal(h.state.wanted, expected === 'stopped' ? 'down' : 'up')
    h.clock.restore()
  }
})

test('exit code 125 is a permanent failure, even under restart always', (t) => {
  const h = harness(t, { ...base, restart: 'always' })
  h.send({ type: 'start' })
  h.exit(125)
  assert.equal(h.state.status, 'failed')
  assert.deepEqual(h.state.exits.map(e => e.reason), ['permanent'])
  assert.match(h.state.failure ?? '', /code 125: permanent failure/)
  h.clock.tick(60_000)
  assert.equal(h.spawns.length, 1)
  h.send({ type: 'stop' })
  assert.equal(h.state.status, 'stopped')
  assert.equal(h.state.failure, null)
})

test('a stop during the backoff cancels the restart', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  h.exit(1)
  assert.equal(h.state.status, 'backoff')
  h.send({ type: 'stop' })
  assert.equal(h.state.status, 'stopped')
  assert.equal(h.clock.countTimers(), 0)
  h.clock.tick(60_000)
  assert.equal(h.spawns.length, 1)
  assert.deepEqual(h.published, ['starting', 'backoff', 'stopped'])
})

test('a stop sends SIGTERM, then SIGKILL once the stop timeout passes; the exit is a stop', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  h.ready()
  h.send({ type: 'stop' })
  assert.deepEqual(h.kills, [{ at: 0, signal: 'SIGTERM', reason: 'stopped' }])
  assert.equal(h.state.status, 'stopping')
  h.clock.tick(base.stopTimeoutMs - 1)
  assert.equal(h.kills.length, 1)
  h.clock.tick(1)
  assert.deepEqual(h.kills.at(-1), { at: base.stopTimeoutMs, signal: 'SIGKILL' })
  h.exit(null, 'SIGKILL')
  assert.equal(h.state.status, 'stopped')
  assert.deepEqual(h.state.exits.at(-1), { at: base.stopTimeoutMs, code: null, signal: 'SIGKILL', reason: 'stopped' })
  assert.equal(h.clock.countTimers(), 0)
})

test('a process that ends on SIGTERM is not SIGKILLed later', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  h.ready()
  h.send({ type: 'stop' })
  h.exit(0)
  h.clock.tick(60_000)
  assert.deepEqual(h.kills.map(k => k.signal), ['SIGTERM'])
  assert.equal(h.state.status, 'stopped')
})

test('no ready report within the ready timeout: killed, recorded as ready-timeout, restarted', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  h.clock.tick(base.readyTimeoutMs - 1)
  assert.equal(h.kills.length, 0)
  h.clock.tick(1)
  assert.deepEqual(h.kills, [{ at: base.readyTimeoutMs, signal: 'SIGTERM', reason: 'ready-timeout' }])
  h.exit(null, 'SIGTERM')
  assert.equal(h.state.status, 'backoff')
  assert.equal(h.state.exits.at(-1)?.reason, 'ready-timeout')
})

test('a module killed over its budget is a failure even if it exits 0 on SIGTERM', (t) => {
  const h = harness(t, { ...base, restart: 'on-failure' })
  h.send({ type: 'start' })
  h.ready()
  h.send({ type: 'budget-breach' })
  assert.deepEqual(h.kills, [{ at: 0, signal: 'SIGTERM', reason: 'over-budget' }])
  h.send({ type: 'budget-breach' })
  assert.deepEqual(h.kills.at(-1), { at: 0, signal: 'SIGKILL' }, 'still growing while it stops: no grace')
  h.exit(0)
  assert.equal(h.state.status, 'backoff')
  assert.equal(h.state.exits.at(-1)?.reason, 'over-budget')
})

test('a kernel OOM kill and a hang are failures that restart', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  h.ready()
  h.exit(null, 'SIGKILL', 'oom')
  assert.equal(h.state.exits.at(-1)?.reason, 'oom')
  h.clock.tick(lastBackoff(h))
  h.ready()
  h.send({ type: 'hang' })
  assert.equal(h.kills.at(-1)?.reason, 'hung')
  assert.equal(h.kills.at(-1)?.signal, 'SIGKILL', 'a hung loop cannot handle SIGTERM')
  h.exit(null, 'SIGKILL')
  assert.equal(h.state.exits.at(-1)?.reason, 'hung')
  assert.equal(h.state.status, 'backoff')
})

test('start while stopping restarts as soon as the process is gone, without a backoff', (t) => {
  const h = harness(t, base)
  h.send({ type: 'start' })
  h.ready()
  h.send({ type: 'stop' })
  h.send({ type: 'start' })
  assert.equal(h.spawns.length, 1)
  h.exit(0)
  assert.equal(h.state.status, 'starting')
  assert.equal(h.spawns.length, 2)
  assert.equal(h.state.restarts, 0, 'an operator restart is not a supervisor restart')
  assert.equal(h.clock.countTimers(), 1, 'only the new ready timeout')
})

test('the exit history keeps the last 20 exits', (t) => {
  const h = harness(t, { ...base, backoff: { ...base.backoff, jitter: 0, maxMs: 100 } })
  h.send({ type: 'start' })
  for (let i = 0; i < 25; i++) crashAndWait(h, i + 1)
  assert.equal(h.state.exits.length, 20)
  assert.equal(h.state.exits[0]?.code, 6)
  assert.equal(h.state.exits.at(-1)?.code, 25)
  assert.equal(h.state.restarts, 25)
})

test('events a state does not expect change nothing', () => {
  const ctx = { now: 5, random: Math.random, policy: base }
  const stopped = initialState()
  for (const event of [{ type: 'ready' }, { type: 'reset' }, { type: 'stop' }, { type: 'hang' }, { type: 'timer', timer: 'backoff' }] as SupervisorEvent[]) {
    assert.deepEqual(step(stopped, event, ctx), { state: stopped, effects: [] }, event.type)
  }
})

test('the defaults give a fast first retry and a crash-loop verdict after a minute or more of retrying', () => {
  const nominal = { ...DEFAULT_POLICY, backoff: { ...DEFAULT_POLICY.backoff, jitter: 0 } }
  assert.equal(backoffDelay(0, nominal, Math.random), 100)
  let waited = 0
  for (let i = 0; i < DEFAULT_POLICY.intensity.maxRestarts; i++) waited += backoffDelay(i, nominal, Math.random)
  assert.ok(waited > 60_000 && waited < DEFAULT_POLICY.intensity.windowMs, `${waited} ms of backoff fit in the window`)
})

test('issue 10 F5: with the default policy a module that never becomes ready is failed (crash loop), not restarted for an hour', (t) => {
  const h = harness(t, DEFAULT_POLICY)
  h.send({ type: 'start' })
  // the process starts and never says ready: each ready timeout kills it (it dies on SIGTERM), the policy restarts it
  while (h.state.status !== 'failed' && h.clock.now < 3_600_000) {
    if (h.state.status === 'starting') h.clock.tick(DEFAULT_POLICY.readyTimeoutMs)
    else if (h.state.status === 'stopping') h.exit(null, 'SIGTERM')
    else if (h.state.status === 'backoff') h.clock.tick(lastBackoff(h))
    else assert.fail(`unexpected ${h.state.status}`)
  }
  assert.equal(h.state.status, 'failed')
  assert.equal(h.spawns.length, DEFAULT_POLICY.intensity.maxRestarts + 1, 'one start and maxRestarts restarts, as for any crash loop')
  assert.match(h.state.failure ?? '', /crash loop: 11 starts in a row never became ready \(last: ready-timeout\)/)
  assert.deepEqual(h.state.exits.slice(-2).map(e => e.reason), ['ready-timeout', 'crash-loop'])
  assert.ok(h.clock.now < 5 * 60_000, `verdict after ${h.clock.now} ms`)
})

test('issue 10 F5: a run that became ready ends the count of unready starts; an operator start or reset clears it', (t) => {
  const h = harness(t, { ...base, restart: 'always', intensity: { maxRestarts: 2, windowMs: 1000 } })
  h.send({ type: 'start' })
  for (let run = 0; run < 6; run++) {
    // two unready runs, then a ready one that crashes: never three unready in a row, and the window is short
    if (run % 3 === 2) h.ready()
    h.clock.tick(run % 3 === 2 ? 10 : base.readyTimeoutMs)
    if (h.state.status === 'stopping') h.exit(null, 'SIGTERM')
    else h.exit(1)
    assert.equal(h.state.status, 'backoff', `run ${run}`)
    h.clock.tick(lastBackoff(h))
  }
  for (let run = 1; run <= 3; run++) {
    h.clock.tick(base.readyTimeoutMs)
    h.exit(null, 'SIGTERM')
    if (run < 3) {
      assert.equal(h.state.status, 'backoff', `unready run ${run} of 3`)
      h.clock.tick(lastBackoff(h))
    }
  }
  assert.equal(h.state.status, 'failed', 'the third unready run in a row (more than maxRestarts) is the verdict')
  h.send({ type: 'reset' })
  assert.equal(h.state.unready, 0)
})

test('issue 10 B4: a running module whose connection is gone is killed after the grace (reason disconnected) and restarted; ready again within the grace keeps it', (t) => {
  const h = harness(t, { ...base, restart: 'always' })
  h.send({ type: 'start' })
  h.ready()
  h.send({ type: 'disconnected' })
  h.clock.tick(base.disconnectGraceMs - 1)
  h.ready() // reconnected and said ready from the same process
  h.clock.tick(base.disconnectGraceMs)
  assert.equal(h.state.status, 'running')
  assert.equal(h.kills.length, 0)

  h.send({ type: 'disconnected' })
  h.clock.tick(base.disconnectGraceMs - 1)
  assert.equal(h.kills.length, 0, 'not before the grace')
  h.clock.tick(1)
  assert.deepEqual(h.kills.at(-1), { at: h.clock.now, signal: 'SIGTERM', reason: 'disconnected' })
  h.exit(0)
  assert.equal(h.state.exits.at(-1)?.reason, 'disconnected')
  assert.equal(h.state.status, 'backoff')

  // an exit during the grace cancels it: the grace never kills the next run
  h.clock.tick(lastBackoff(h))
  h.ready()
  h.send({ type: 'disconnected' })
  h.exit(1)
  h.clock.tick(lastBackoff(h))
  h.ready()
  const kills = h.kills.length
  h.clock.tick(base.disconnectGraceMs * 2)
  assert.equal(h.kills.length, kills)
  assert.equal(h.state.status, 'running')
})
