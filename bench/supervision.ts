// Supervision benchmarks (issue 3): how long a killed module is away, how fast a budget breach is acted
// on, and what the memory sampler costs. Each figure sits next to a baseline measured in the same run.
// The gateway runs inside this process (the bench is its core), so timings are read from its own log.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { startGateway } from '../core/gateway.js'
import type { Gateway } from '../core/gateway.js'
import { createCoreLog } from '../core/log.js'
import type { LogEntry } from '../core/log.js'
import { createMemorySampler } from '../core/supervisor/memory-sampler.js'
import { connectControl } from './lib/control.js'
import type { Control } from './lib/control.js'
import { median } from './lib/stats.js'

export interface SupervisionSettings {
  kills: number
  breaches: number
  samplerModules: number
  samplerWindowMs: number
  sampleMs: number
  graceMs: number
}

export interface SupervisionResults {
  restartMs: { p50: number, max: number, samples: number[] }
  /** baseline: a bare node process from spawn to exit, and an SDK module from spawn to ready */
  bareNodeStartMs: number
  sdkModuleStartMs: number
  breachToStopMs: { p50: number, max: number, samples: number[] }
  sampler: { modules: number, intervalMs: number, cpuPercent: number, idleCpuPercent: number }
}

const here = path.dirname(fileURLToPath(import.meta.url))
const module = (name: string): string => path.join(here, 'modules', `${name}.js`)
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

async function withGateway<T> (modules: unknown[], defaults: Record<string, unknown>, run: (gw: Gateway, control: Control, logs: LogEntry[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-sup-'))
  const manifestFile = path.join(dir, 'gateway.json')
  writeFileSync(manifestFile, JSON.stringify({
    gateway: 'bench',
    board: 'sim',
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    defaults,
    modules,
  }))
  const logs: LogEntry[] = []
  const log = createCoreLog({ level: 'error', write: () => {} })
  log.addSink(entry => { logs.push(entry) })
  const gw = await startGateway({ manifestFile, log, runtimeDir: path.join(dir, 'run') })
  const control = await connectControl(gw.broker.listeners[0]?.url ?? '', `bench-sup-${process.pid}`)
  try {
    return await run(gw, control, logs)
  } finally {
    await control.end()
    await gw.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** kill -9 of a module → its first answered call: retried every 2 ms while the module is away */
async function restartLatency (kills: number): Promise<number[]> {
  return withGateway([{ name: 'victim', entry: module('echo') }], {}, async (gw, control) => {
    const victim = gw.modules.require('victim').instances[0]
    if (victim === undefined) throw new Error('no victim instance')
    const samples: number[] = []
    for (let i = 0; i < kills; i++) {
      const pid = victim.process?.pid
      if (pid === undefined) throw new Error('victim is not running')
      const killedAt = performance.now()
      process.kill(pid, 'SIGKILL')
      for (;;) {
        if (performance.now() - killedAt > 5000) throw new Error('victim did not come back within 5 s')
        const ok = await control.call('victim', 'echo', i, 50).then(() => true, () => false)
        if (ok && victim.process?.pid !== pid) break
        await sleep(2)
      }
      samples.push(performance.now() - killedAt)
      // a fresh start forgets the backoff and crash window: each kill is a first failure, as in the field
      await gw.modules.stop('victim')
      await gw.modules.start('victim')
    }
    return samples
  })
}

/** baselines: node itself, and an SDK module from spawn to its ready presence, without a supervisor */
async function startBaselines (gw: Gateway, control: Control, rounds: number): Promise<{ bare: number, sdk: number }> {
  const bare: number[] = []
  const sdk: number[] = []
  for (let i = 0; i < rounds; i++) {
    const started = performance.now()
    await new Promise<void>((resolve, reject) => {
      spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', () => resolve()).once('error', reject)
    })
    bare.push(performance.now() - started)

    const name = `baseline-${i}`
    const credential = gw.credentials.issue(name, 0, '*')
    const env = {
      OUTPOST_MODULE: name,
      OUTPOST_INSTANCE: '0',
      OUTPOST_BROKER: gw.broker.moduleUrl,
      OUTPOST_USERNAME: credential.username,
      OUTPOST_CREDENTIAL_FD: '3',
    }
    const spawnedAt = performance.now()
    const child = spawn(process.execPath, [module('echo')], { env, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] })
    const secret = child.stdio[3] as Writable
    secret.on('error', () => {})
    secret.end(credential.password)
    try {
      await control.ready([name], 10_000)
      sdk.push(performance.now() - spawnedAt)
    } finally {
      child.kill('SIGKILL')
      gw.credentials.revoke(credential.username)
    }
  }
  return { bare: median(bare), sdk: median(sdk) }
}

/** time from the hog's own reading crossing its budget to the core stopping it */
async function breachToStop (runs: number, sampleMs: number, graceMs: number): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const sample = await withGateway([{ name: 'hog', entry: module('hog'), memoryMiB: 48, restart: { restart: 'never' } }], { memory: { sampleMs, graceMs, kernelFactor: 4 } }, async (gw, control, logs) => {
      // 50 MB/s: a fast leak, still slow enough that the sampler, not the kernel backstop, acts
      await control.call('hog', 'grow', { mbPerTick: 0.5, limitMiB: 48 }, 2000)
      const hog = gw.modules.require('hog').instances[0]
      const deadline = Date.now() + 10_000
      while (hog?.state.exits.length === 0 && Date.now() < deadline) await sleep(10)
      const crossed = logs.find(l => l.source === 'hog' && l.text.startsWith('crossed '))
      const stopped = logs.find(l => l.source === 'core' && l.text.includes('over its memory budget'))
      if (crossed === undefined || stopped === undefined) throw new Error(`the hog was not stopped for its budget: ${logs.filter(l => l.source === 'hog' || l.source === 'core').map(l => `${l.source}: ${l.text}`).join('; ')}`)
      return stopped.ts - Number(crossed.text.slice('crossed '.length))
    })
    samples.push(sample)
  }
  return samples
}

/** the sampler's CPU with N idle processes watched, against the same window with nothing watched */
async function samplerCost (modules: number, intervalMs: number, windowMs: number): Promise<{ cpu: number, idle: number }> {
  const children = Array.from({ length: modules }, () => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' }))
  try {
    await sleep(500)
    const measure = async (): Promise<number> => {
      const before = process.cpuUsage()
      const started = performance.now()
      await sleep(windowMs)
      const used = process.cpuUsage(before)
      return (used.user + used.system) / 1000 / (performance.now() - started) * 100
    }
    const idle = await measure()
    const sampler = createMemorySampler({ intervalMs, onBreach: () => {} })
    children.forEach((child, i) => sampler.watch(`m${i}.0`, child.pid ?? -1, { limitBytes: 1 << 30, graceMs: 1000 }))
    const cpu = await measure()
    sampler.stop()
    return { cpu, idle }
  } finally {
    for (const child of children) child.kill('SIGKILL')
  }
}

export async function runSupervision (settings: SupervisionSettings, log: (line: string) => void): Promise<SupervisionResults> {
  log(`supervision: ${settings.kills} × kill -9 → first answered call`)
  const restart = await restartLatency(settings.kills)
  log('supervision: start-up baselines')
  const baselines = await withGateway([], {}, (gw, control) => startBaselines(gw, control, 7))
  log(`supervision: ${settings.breaches} budget breaches (sample ${settings.sampleMs} ms, grace ${settings.graceMs} ms)`)
  const breach = await breachToStop(settings.breaches, settings.sampleMs, settings.graceMs)
  log(`supervision: sampler cost with ${settings.samplerModules} processes`)
  const cost = await samplerCost(settings.samplerModules, settings.sampleMs, settings.samplerWindowMs)
  return {
    restartMs: { p50: median(restart), max: Math.max(...restart), samples: restart },
    bareNodeStartMs: baselines.bare,
    sdkModuleStartMs: baselines.sdk,
    breachToStopMs: { p50: median(breach), max: Math.max(...breach), samples: breach },
    sampler: { modules: settings.samplerModules, intervalMs: settings.sampleMs, cpuPercent: cost.cpu - cost.idle, idleCpuPercent: cost.idle },
  }
}
