// `npm run bench -- soak [--minutes N]`: the core under RPC and hook load for a long stretch (10 minutes by
// default), beside a module that crashes every few seconds and one that floods its log and the broker. The
// core's memory and open file descriptors are sampled all along; what matters is their slope once warmed
// up, which a leak makes positive. Not part of CI: it takes minutes and wants a quiet machine.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { Cleanup } from './lib/cleanup.js'
import { openFds, rssMiB, ussMiB } from './lib/procfs.js'
import { benchNames, npmStart, startCore } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'
import type { LoopSpec } from './lib/loop.js'
import type { LatencyRun } from './lib/stats.js'

export interface SoakSettings {
  minutes: number
  sampleEveryMs: number
  /** the first part of the run, left out of the slopes: heaps and caches grow to their working size */
  warmupFraction: number
}

export interface SoakSample { atS: number, rssMiB: number, rssAnonMiB: number, fds: number }

export interface SoakResults {
  settings: SoakSettings
  samples: SoakSample[]
  /** per minute, least squares over the samples after the warm-up */
  slopes: { rssMiB: number, rssAnonMiB: number, fds: number }
  ussStartMiB: number
  ussEndMiB: number
  rpcRounds: number
  rpcFailures: string[]
  calls: number
  hookRounds: number
  hooksReceived: number
  crasher: ModuleStatus
  flooder: ModuleStatus
}

const SEQUENTIAL: LoopSpec = { count: 2000, inflight: 1, maxMs: 3000, warmup: 0 }
const PARALLEL: LoopSpec = { count: 20_000, inflight: 32, maxMs: 3000, warmup: 0 }
const BLAST = { count: 50_000, window: 4000, maxMs: 4000 }

function rssAnonMiB (pid: number): number {
  return Number(/^RssAnon:\s+(\d+) kB/m.exec(readStatus(pid))?.[1] ?? Number.NaN) / 1024
}

function readStatus (pid: number): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8')
}

/** least-squares slope of y over x */
export function slope (points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return Number.NaN
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return sxx === 0 ? Number.NaN : sxy / sxx
}

interface ModuleStatus { state: string, restarts: number }

export async function runSoak (dir: string, settings: SoakSettings, cleanup: Cleanup, log: (line: string) => void): Promise<SoakResults> {
  const names = benchNames('')
  const core: Stack = await startCore('outpost', path.join(dir, 'core'), npmStart(), names, cleanup, {
      // the sim board's 512 MiB hold the five benchmark modules' budgets, the core's reserve and these two
    extra: [
      // restarted at once, every time: a crash loop must not end the soak's crashing early
      { name: 'soak-crasher', program: 'modules/crasher.js', memoryMiB: 32, restart: { backoff: { initialMs: 100, factor: 1, maxMs: 100, jitter: 0 }, intensity: { maxRestarts: 100_000, windowMs: 60_000 } } },
      { name: 'soak-flooder', program: 'modules/flooder.js', memoryMiB: 32 },
    ],
  })
  const pid = core.broker.pid
  const t0 = Date.now()
  const deadline = t0 + settings.minutes * 60_000
  const samples: SoakSample[] = []
  const take = (): void => {
    samples.push({ atS: (Date.now() - t0) / 1000, rssMiB: rssMiB(pid), rssAnonMiB: rssAnonMiB(pid), fds: openFds(pid) })
  }
  take()
  const sampler = setInterval(take, settings.sampleEveryMs)
  cleanup.add('soak sampler', () => clearInterval(sampler))
  const ussStartMiB = ussMiB(pid)

  let rpcRounds = 0
  let calls = 0
  let hookRounds = 0
  let hooksReceived = 0
  const rpcFailures: string[] = []
  let loggedMinute = 0
  while (Date.now() < deadline) {
    for (const spec of [SEQUENTIAL, PARALLEL]) {
      try {
        const run = await core.control.call<LatencyRun>(names.caller, 'run', { target: names.echo, ...spec }, spec.maxMs + 10_000)
        calls += run.calls
      } catch (err) {
        // every failed round is reported: under this load a call should never fail
        rpcFailures.push((err as Error).message)
      }
      rpcRounds++
    }
    await core.control.call(names.sub, 'reset', null, 5000)
    await core.control.call(names.pub, 'blast', BLAST, BLAST.maxMs + 10_000)
    hooksReceived += (await core.control.call<{ received: number }>(names.sub, 'stats', null, 5000)).received
    hookRounds++
    const minute = Math.floor((Date.now() - t0) / 60_000)
    if (minute > loggedMinute) {
      loggedMinute = minute
      log(`soak: ${minute} min, core RSS ${samples.at(-1)?.rssMiB.toFixed(1)} MiB, ${samples.at(-1)?.fds} fds, ${calls} calls`)
    }
  }
  clearInterval(sampler)
  take()
  const status = (name: string): Promise<ModuleStatus> => core.control.call<ModuleStatus>('core', 'status', { module: name }, 5000)
  const crasher = await status('soak-crasher')
  const flooder = await status('soak-flooder')
  const steady = samples.filter(s => s.atS >= settings.minutes * 60 * settings.warmupFraction)
  const perMinute = (pick: (s: SoakSample) => number): number => slope(steady.map(s => [s.atS / 60, pick(s)]))
  return {
    settings,
    samples,
    slopes: { rssMiB: perMinute(s => s.rssMiB), rssAnonMiB: perMinute(s => s.rssAnonMiB), fds: perMinute(s => s.fds) },
    ussStartMiB,
    ussEndMiB: ussMiB(pid),
    rpcRounds,
    rpcFailures,
    calls,
    hookRounds,
    hooksReceived,
    crasher,
    flooder,
  }
}

const f1 = (n: number): string => n.toFixed(1)
const f2 = (n: number): string => (n >= 0 ? '+' : '') + n.toFixed(2)

export function renderSoak (r: SoakResults, startedAt: Date): string {
  const first = r.samples[0]
  const last = r.samples.at(-1)
  const max = (pick: (s: SoakSample) => number): number => Math.max(...r.samples.map(pick))
  const failures = r.rpcFailures.length === 0 ? 'none' : `${r.rpcFailures.length}: ${[...new Set(r.rpcFailures)].slice(0, 3).join('; ')}`
  return `## Soak

Written by \`npm run bench -- soak\` on ${startedAt.toISOString()} (node ${process.version}); not run in CI. The core
(as \`npm start\` runs it) for ${r.settings.minutes} min under alternating RPC rounds (one call at a time, then 32 in
flight) and hook rounds (one publisher → one subscriber), beside \`soak-crasher\` (throws 1.5 s after it is ready,
restarted at once every time) and \`soak-flooder\` (prints ${'≈'} 200 lines and emits 50 hooks nobody reads per turn of its
event loop). The core's RSS, RssAnon and open file descriptors are read every ${r.settings.sampleEveryMs / 1000} s; the slopes
are least squares over the samples after the first ${(r.settings.warmupFraction * 100).toFixed(0)}% of the run.

| reading | start | end | highest | slope per minute after warm-up |
|---|---|---|---|---|
| core RSS (MiB) | ${f1(first?.rssMiB ?? 0)} | ${f1(last?.rssMiB ?? 0)} | ${f1(max(s => s.rssMiB))} | ${f2(r.slopes.rssMiB)} |
| core RssAnon (MiB) | ${f1(first?.rssAnonMiB ?? 0)} | ${f1(last?.rssAnonMiB ?? 0)} | ${f1(max(s => s.rssAnonMiB))} | ${f2(r.slopes.rssAnonMiB)} |
| core open fds | ${first?.fds ?? 0} | ${last?.fds ?? 0} | ${max(s => s.fds)} | ${f2(r.slopes.fds)} |
| core USS (MiB) | ${f1(r.ussStartMiB)} | ${f1(r.ussEndMiB)} | — | — |

| load | |
|---|---|
| RPC rounds, calls answered | ${r.rpcRounds}, ${r.calls} |
| RPC rounds that failed | ${failures} |
| hook rounds, hooks received | ${r.hookRounds}, ${r.hooksReceived} |
| crasher: restarts, state at the end | ${r.crasher.restarts}, ${r.crasher.state} |
| flooder: restarts, state at the end | ${r.flooder.restarts}, ${r.flooder.state} |
`
}
