// The memory sampler against real processes: a child that allocates, a child whose grandchild allocates,
// an idle child, and a child that exits while watched.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createMemorySampler } from '../../core/supervisor/memory-sampler.js'
import type { Breach, MemorySampler, ModuleSample } from '../../core/supervisor/memory-sampler.js'

const MiB = 1024 * 1024

// touches every page (a zero-filled Buffer may stay unbacked), stops at `max` MiB so a broken sampler
// cannot eat the machine, prints "ready" once running
const allocator = (max: number): string => `
  const keep = []
  console.log('ready')
  const t = setInterval(() => { keep.push(Buffer.alloc(2 * 1024 * 1024, 7)); if (keep.length * 2 >= ${max}) clearInterval(t) }, 5)
  setInterval(() => {}, 1000)`

// the child itself stays small; the grandchild it starts allocates
const forker = `
  const { spawn } = require('node:child_process')
  const grandchild = spawn(process.execPath, ['-e', ${JSON.stringify(allocator(200))}], { stdio: ['ignore', 'inherit', 'inherit'] })
  console.log('grandchild ' + grandchild.pid)
  setInterval(() => {}, 1000)`

function start (t: TestContext, script: string): ChildProcess {
  // its own process group, so cleanup reaches the grandchildren too
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
  t.after(() => {
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL')
    } catch {
      // already gone
    }
  })
  return child
}

async function firstLine (child: ChildProcess): Promise<string> {
  const [chunk] = await once(child.stdout ?? child, 'data') as [Buffer]
  return chunk.toString().trim()
}

function sampler (t: TestContext, onBreach: (b: Breach) => void, onSample?: (s: ModuleSample) => void): MemorySampler {
  const s = createMemorySampler({ intervalMs: 50, rescanEvery: 2, onBreach, ...(onSample === undefined ? {} : { onSample }) })
  t.after(() => s.stop())
  return s
}

// Promise.withResolvers is not in Node 20
function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {}
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

/** resolves once `check` holds, polled every 20 ms (the test's own timeout bounds the wait) */
async function until (check: () => boolean): Promise<void> {
  while (!check()) await new Promise(resolve => setTimeout(resolve, 20))
}

const rssAnon = (pid: number): number => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024

test('a child allocating past its limit is reported once, with figures over the limit', { timeout: 20_000 }, async (t) => {
  const child = start(t, allocator(200))
  assert.equal(await firstLine(child), 'ready')
  const breaches: Breach[] = []
  const samples: ModuleSample[] = []
  const breached = deferred<void>()
  const s = sampler(t, b => {
    breaches.push(b)
    breached.resolve()
  }, sample => samples.push(sample))
  const limitBytes = 40 * MiB
  assert.equal(s.watch('leaky', child.pid ?? 0, { limitBytes, graceMs: 150 }), true)
  await breached.promise
  const [breach] = breaches
  assert.equal(breach?.id, 'leaky')
  assert.equal(breach?.pid, child.pid)
  assert.equal(breach?.limitBytes, limitBytes)
  assert.ok((breach?.measuredBytes ?? 0) > limitBytes, `measured ${breach?.measuredBytes} > ${limitBytes}`)
  // the grace is judged in whole sampling intervals (50 ms here), rounded: a late timer tick must not push
  // the verdict a whole interval later, so the time measured may fall short of the grace by half an interval
  assert.ok((breach?.overForMs ?? 0) >= 150 - 25, `over the limit for the whole grace period, in whole intervals (${breach?.overForMs} ms)`)
  // still over the limit for several more samples: no second report for the same breach
  const seen = samples.length
  await until(() => samples.length >= seen + 10)
  assert.equal(breaches.length, 1)
  assert.ok((s.usage('leaky')?.cpuMs ?? 0) > 0, 'CPU time of the allocating child is counted')
})

test('a grandchild allocating counts against the module: the budget covers the whole tree', { timeout: 20_000 }, async (t) => {
  const child = start(t, forker)
  const line = await firstLine(child)
  const grandchildPid = Number(/^grandchild (\d+)/.exec(line)?.[1])
  assert.ok(grandchildPid > 0, line)
  const limitBytes = 60 * MiB
  const breached = deferred<Breach>()
  const trees: number[] = []
  const s = sampler(t, b => breached.resolve(b), sample => trees.push(sample.processes))
  s.watch('forker', child.pid ?? 0, { limitBytes, graceMs: 100 })
  const breach = await breached.promise
  assert.equal(breach.pid, child.pid)
  assert.ok(breach.measuredBytes > limitBytes)
  assert.ok(rssAnon(child.pid ?? 0) < limitBytes / 2, 'the module process alone is well under the limit')
  assert.ok(Math.max(...trees) >= 2, 'the grandchild was found')
})

test('an idle child stays under its limit: samples, no breach', { timeout: 20_000 }, async (t) => {
  const child = start(t, 'console.log("ready"); setInterval(() => {}, 1000)')
  assert.equal(await firstLine(child), 'ready')
  let breaches = 0
  const samples: ModuleSample[] = []
  const enough = deferred<void>()
  const s = sampler(t, () => breaches++, sample => {
    samples.push(sample)
    if (samples.length === 20) enough.resolve()
  })
  s.watch('idle', child.pid ?? 0, { limitBytes: 60 * MiB, graceMs: 0 })
  await enough.promise
  assert.equal(breaches, 0)
  const bytes = samples.map(sample => sample.bytes)
  assert.ok(Math.min(...bytes) > 1 * MiB && Math.max(...bytes) < 60 * MiB, `private memory ${Math.max(...bytes)} bytes: a bare node, not its shared RSS`)
  assert.ok(samples.every(sample => sample.processes === 1 && sample.pid === child.pid))
})

test('a watched process that exits is unwatched without a throw; a gone PID is refused', { timeout: 20_000 }, async (t) => {
  const child = start(t, 'console.log("ready"); setInterval(() => {}, 1000)')
  assert.equal(await firstLine(child), 'ready')
  const samplesAfterExit: ModuleSample[] = []
  let exited = false
  const s = sampler(t, () => assert.fail('no breach expected'), sample => {
    if (exited) samplesAfterExit.push(sample)
  })
  const pid = child.pid ?? 0
  assert.equal(s.watch('brief', pid, { limitBytes: 60 * MiB, graceMs: 0 }), true)
  await until(() => s.usage('brief') !== undefined)
  child.kill('SIGKILL')
  await once(child, 'exit')
  exited = true
  await until(() => s.usage('brief') === undefined)
  assert.equal(samplesAfterExit.length, 0, 'no sample of a process that is gone')
  s.unwatch('brief')
  assert.equal(s.watch('again', pid, { limitBytes: MiB, graceMs: 0 }), false)
  assert.equal(s.usage('again'), undefined)
})

test('issue 10 F2 (no cgroups): the descendants a module left when it exited are returned by unwatch, alive ones only', { timeout: 20_000 }, async (t) => {
  // a child that starts a setsid() grandchild (out of its process group) and reports its pid
  const child = start(t, `
    const { spawn } = require('node:child_process')
    const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' })
    console.log('grandchild ' + grandchild.pid)
    setInterval(() => {}, 1000)`)
  const grandchild = Number((await firstLine(child)).split(' ')[1])
  t.after(() => { try { process.kill(grandchild, 'SIGKILL') } catch {} })
  const s = sampler(t, () => assert.fail('no breach expected'))
  assert.equal(s.watch('leaver', child.pid ?? 0, { limitBytes: 500 * MiB, graceMs: 0 }), true)
  await until(() => s.usage('leaver')?.processes === 2)
  child.kill('SIGKILL')
  await once(child, 'exit')
  await until(() => s.usage('leaver') === undefined)
  assert.deepEqual(s.unwatch('leaver'), [grandchild], 'the grandchild outlived its parent and is handed back to be killed')
  process.kill(grandchild, 'SIGKILL')
  assert.deepEqual(s.unwatch('leaver'), [], 'unwatched once')
})
