// The uplink's overhead as issue 11 states its target: hooks/s from a module to a subscriber on the upstream,
// through the gateway and its uplink, against the same module publishing to the upstream directly. One
// upstream Mosquitto serves both paths, rounds alternate between them, and the ratio is the median of the
// per-round ratios. The subscriber (bench/raw/upstream-counter.ts) paces the publisher as the throughput
// benchmark's subscriber module does: a `progress` hook every PROGRESS_EVERY messages, sent where the
// publisher is (the upstream itself, or the gateway's broker), and the publisher keeps within its window.
import path from 'node:path'
import type { Cleanup } from './lib/cleanup.js'
import { cpuMs, treeCpuMs } from './lib/procfs.js'
import { startProc } from './lib/proc.js'
import { inTurn } from './lib/stats.js'
import type { Proc } from './lib/proc.js'
import { PROGRESS_EVERY, benchNames, benchProgram, freePort, npmStart, startCore, startModulesOn, startUpstreamMosquitto } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'
import type { ThroughputRun, ThroughputSettings } from './throughput.js'

/** CPU µs per message over the measured rounds: the gateway's processes (the publisher alone on the direct path), the upstream broker, the subscriber */
export interface CpuPerMessage { gateway: number, upstream: number, subscriber: number }

export interface EndToEndResults {
  direct: ThroughputRun[]
  uplink: ThroughputRun[]
  cpuUs: { direct: CpuPerMessage, uplink: CpuPerMessage }
  /** the uplink's hooks.up and drop counters after the rounds */
  forwarded: { up: number, backlogDropped: number }
}

/** the fleet id of the gateway measured here: its hooks arrive on `outpost/<id>/hooks/…` */
const FLEET_ID = 'bench-e'

interface Counter {
  pid: number
  reset (): Promise<void>
  stats (): Promise<{ received: number, spanMs: number }>
}

async function startCounter (label: string, upstreamUrl: string, filter: string, progressUrl: string, progressTopic: string, cleanup: Cleanup): Promise<Counter> {
  const proc: Proc = startProc(label, [process.execPath, benchProgram('raw/upstream-counter.js'), upstreamUrl, filter, progressUrl, progressTopic, String(PROGRESS_EVERY)], {}, cleanup)
  await proc.waitLine(/^subscribed$/, 10_000)
  const ask = async (line: string, answer: RegExp): Promise<string> => {
    const reply = proc.waitLine(answer, 10_000, true)
    proc.child.stdin?.write(`${line}\n`)
    return await reply
  }
  return {
    pid: proc.pid,
    reset: async () => { await ask('reset', /^reset$/) },
    stats: async () => JSON.parse((await ask('stats', /^stats /)).slice('stats '.length)) as { received: number, spanMs: number },
  }
}

async function round (stack: Stack, counter: Counter, settings: ThroughputSettings): Promise<ThroughputRun> {
  await counter.reset()
  const count = Math.ceil(settings.count / PROGRESS_EVERY) * PROGRESS_EVERY
  const blast = await stack.control.call<{ sent: number, messageBytes: number }>(stack.names.pub, 'blast', { count, window: settings.window, maxMs: settings.maxMs }, settings.maxMs + 10_000)
  // the last messages may still be on their way when the publisher's clock ran out: let them land
  await new Promise(resolve => setTimeout(resolve, 200))
  const { received, spanMs } = await counter.stats()
  return { sent: blast.sent, received, messageBytes: blast.messageBytes, spanMs, perSec: spanMs > 0 ? ((received - 1) * 1000) / spanMs : 0 }
}

export async function runEndToEnd (dir: string, settings: ThroughputSettings, cleanup: Cleanup, log: (line: string) => void): Promise<EndToEndResults> {
  const port = await freePort()
  const url = `mqtt://127.0.0.1:${port}`
  const upstream = await startUpstreamMosquitto(`upstream mosquitto (end to end)`, dir, port, cleanup)
  const directNames = benchNames(`-e0`)
  const gatewayNames = benchNames(`-e1`)
  const direct = await startModulesOn(`the publisher on the upstream`, upstream, url, path.join(dir, `e2e-direct`), directNames, cleanup, ['pub'])
  const gateway = await startCore(`outpost with the uplink`, path.join(dir, `e2e-gateway`), npmStart(), gatewayNames, cleanup, {
    only: ['pub'],
    uplink: { url, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 1000 }, fleetId: FLEET_ID, hooks: [{ filter: `${gatewayNames.pub}/tick`, qos: 0 }] },
  })
  const counters = new Map<Stack, Counter>([
    [direct, await startCounter(`counter (direct)`, url, `hooks/${directNames.pub}/tick`, url, `hooks/${directNames.sub}/progress`, cleanup)],
    [gateway, await startCounter(`counter (uplink)`, url, `outpost/${FLEET_ID}/hooks/${gatewayNames.pub}/tick`, gateway.url, `hooks/${gatewayNames.sub}/progress`, cleanup)],
  ])
  // the uplink subscribes to the publisher's hooks once connected: wait until a round gets through
  const deadline = Date.now() + 20_000
  while ((await round(gateway, counters.get(gateway) as Counter, { ...settings, count: PROGRESS_EVERY, maxMs: 1000 })).received === 0) {
    if (Date.now() > deadline) throw new Error('uplink end to end: no hook reached the upstream within 20 s')
  }
  const runs = new Map<Stack, ThroughputRun[]>([[direct, []], [gateway, []]])
  const gatewayCpu = new Map<Stack, () => number>([[direct, () => cpuMs(direct.pids[directNames.pub] as number)], [gateway, () => treeCpuMs(gateway.broker.pid)]])
  const spent = new Map<Stack, CpuPerMessage>([[direct, { gateway: 0, upstream: 0, subscriber: 0 }], [gateway, { gateway: 0, upstream: 0, subscriber: 0 }]])
  for (let r = 1 - settings.warmupRounds; r <= settings.rounds; r++) {
    for (const stack of inTurn([direct, gateway], r)) {
      const counter = counters.get(stack) as Counter
      const cpu = (): CpuPerMessage => ({ gateway: (gatewayCpu.get(stack) as () => number)(), upstream: cpuMs(upstream.pid), subscriber: cpuMs(counter.pid) })
      const before = cpu()
      const run = await round(stack, counter, settings)
      const after = cpu()
      log(`uplink end to end ${r < 1 ? 'warm-up' : `round ${r}/${settings.rounds}`} ${stack.label}: ${run.perSec.toFixed(0)} msg/s (${run.received}/${run.sent} received)`)
      if (r < 1) continue
      runs.get(stack)?.push(run)
      const sum = spent.get(stack) as CpuPerMessage
      for (const side of ['gateway', 'upstream', 'subscriber'] as const) sum[side] += after[side] - before[side]
    }
  }
  const perMessage = (stack: Stack): CpuPerMessage => {
    const received = (runs.get(stack) ?? []).reduce((n, run) => n + run.received, 0)
    const sum = spent.get(stack) as CpuPerMessage
    return { gateway: sum.gateway * 1000 / received, upstream: sum.upstream * 1000 / received, subscriber: sum.subscriber * 1000 / received }
  }
  const stats = await gateway.control.call<{ hooks: { up: number, dropped: { backlog: number } } }>('uplink', 'stats', null, 10_000)
  await gateway.broker.stop()
  await upstream.stop()
  return { direct: runs.get(direct) ?? [], uplink: runs.get(gateway) ?? [], cpuUs: { direct: perMessage(direct), uplink: perMessage(gateway) }, forwarded: { up: stats.hooks.up, backlogDropped: stats.hooks.dropped.backlog } }
}
