// The fleet-scale section of docs/benchmarks.md (issue 11): 100 gateways on one Mosquitto upstream.
// The gateways are a stand-in (bench/fleet-standin.ts), not 100 cores: 4 processes × 25 gateways, each gateway
// running the uplink's real connection code (connectUpstream: backoff with jitter, the Last Will, the packet
// guard, the request subscription) under the real topic map, and publishing on each connect the retained
// status document in the shape of the uplink's statusOf. Measured:
// (a) `outpost fleet ls --via …` (the real CLI, a process per run) with 100 gateways online against the same
//     command with 1 gateway online on a second Mosquitto, runs alternating between the two;
// (b) the upstream restarted (SIGTERM, started again at once on the same port): the time from its start until
//     every gateway has sent its online status again, the connects per 100 ms window, and Mosquitto's CPU time
//     over that window; with the schema's default backoff (jitter 0.5) and, as the baseline, jitter 0.
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { uplinkSchema } from '../core/manifest/uplink-schema.js'
import { installRoot } from '../core/paths.js'
import { decodeCbor } from '../core/protocol/codec.js'
import type { Cleanup } from './lib/cleanup.js'
import { describeRun, startRun } from './lib/conditions.js'
import { cpuMs, rssMiB } from './lib/procfs.js'
import { startProc } from './lib/proc.js'
import type { Proc } from './lib/proc.js'
import { freePort, MOSQUITTO, startUpstreamMosquitto } from './lib/stacks.js'
import { median } from './lib/stats.js'

export interface FleetSettings {
  gateways: number
  processes: number
  /** `fleet ls` runs per broker (alternating), after one warm-up run each */
  lsRuns: number
  /** upstream restarts per jitter setting */
  restarts: number
  /** rest between restarts, every gateway online */
  settleMs: number
  /** bound on one restart's wait for every gateway */
  backTimeoutMs: number
}

export const FLEET: FleetSettings = { gateways: 100, processes: 4, lsRuns: 5, restarts: 3, settleMs: 2000, backTimeoutMs: 60_000 }

const TOPIC_ROOT = 'outpost'
const gatewayId = (i: number): string => `bench-gw-${String(i).padStart(3, '0')}`
const STANDIN = fileURLToPath(new URL('./fleet-standin.js', import.meta.url))
const CLI = path.join(installRoot, 'build', 'core', 'cli', 'main.js')

const startUpstream = (dir: string, port: number, cleanup: Cleanup): Promise<Proc> => startUpstreamMosquitto(`fleet upstream mosquitto :${port}`, dir, port, cleanup)

interface Backoff { initialMs: number, maxMs: number, factor: number, jitter: number }

/** `gateways` stand-ins from index `first`, spread over `processes` processes */
function startStandins (url: string, first: number, gateways: number, processes: number, backoff: Backoff, cleanup: Cleanup): Proc[] {
  const procs: Proc[] = []
  const per = Math.ceil(gateways / processes)
  for (let from = first; from < first + gateways; from += per) {
    const count = Math.min(per, first + gateways - from)
    procs.push(startProc(`fleet stand-in ${from}..${from + count - 1}`, [process.execPath, STANDIN, url, String(from), String(count), String(backoff.jitter), String(backoff.initialMs), String(backoff.maxMs), String(backoff.factor)], {}, cleanup))
  }
  return procs
}

interface Seen { state: string, ts: number, arrivedAt: number }

/** an mqtt.js subscriber on every status, reconnecting every 20 ms when the upstream goes */
async function watchStatuses (url: string, cleanup: Cleanup): Promise<{ client: MqttClient, seen: Map<string, Seen> }> {
  const seen = new Map<string, Seen>()
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `bench-fleet-watch-${process.pid}`, reconnectPeriod: 20, connectTimeout: 5000, resubscribe: false })
  cleanup.add('the fleet status watcher', () => client.end(true))
  const subscribe = (): void => { client.subscribe(`${TOPIC_ROOT}/+/status`, { qos: 0 }) }
  client.on('connect', subscribe)
  client.on('error', () => {})
  subscribe()
  client.on('message', (topic, payload) => {
    if (payload.length === 0) return
    try {
      const doc = decodeCbor(payload) as { state?: unknown, ts?: unknown }
      seen.set(topic.slice(TOPIC_ROOT.length + 1, -'/status'.length), { state: String(doc.state), ts: typeof doc.ts === 'number' ? doc.ts : 0, arrivedAt: Date.now() })
    } catch {}
  })
  return { client, seen }
}

async function until<T> (what: string, check: () => T | undefined, timeoutMs: number, everyMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`fleet bench: no ${what} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** the online statuses sent at or after `since` (epoch ms) */
const onlineSince = (seen: Map<string, Seen>, since: number): Seen[] => [...seen.values()].filter(s => s.state === 'online' && s.ts >= since)

interface LsRun { ms: number, listed: number, online: number, code: number }

/** `url` undefined: `fleet ls --help`, the CLI's start and exit alone (the floor of any run) */
async function fleetLs (url: string | undefined): Promise<LsRun> {
  const t0 = performance.now()
  const args = url === undefined ? ['--help'] : ['--via', url, '--json', '--timeout', '10000']
  const child = spawn(process.execPath, [CLI, 'fleet', 'ls', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  child.stderr.resume()
  const code = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('fleet ls did not exit within 20 s')) }, 20_000)
    child.once('exit', c => { clearTimeout(timer); resolve(c ?? -1) })
  })
  const ms = performance.now() - t0
  if (url === undefined) return { ms, listed: 0, online: 0, code }
  const rows = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{ gateway: string, state: string }>
  return { ms, listed: rows.length, online: rows.filter(r => r.state === 'online').length, code }
}

export interface RestartRun {
  /** Mosquitto's start to the last gateway's online status (its `ts`), and to the watcher having them all */
  lastMs: number
  seenAllMs: number
  firstMs: number
  peakPer100ms: number
  cpuMs: number
}

export interface FleetResults {
  /** when and how loaded the run was (describeRun) */
  ran: string
  backoff: Backoff
  ls: { fleet: LsRun[], solo: LsRun[], help: LsRun[] }
  standinRssMiB: number[]
  restarts: { jitter: number, runs: RestartRun[] }[]
}

async function restartRound (dir: string, port: number, upstream: Proc, seen: Map<string, Seen>, s: FleetSettings, cleanup: Cleanup): Promise<{ upstream: Proc, run: RestartRun }> {
  await upstream.stop()
  const startAt = Date.now()
  const next = await startUpstream(dir, port, cleanup)
  let cpuAtAll = 0
  const all = await until('every gateway back', () => {
    const back = onlineSince(seen, startAt)
    if (back.length < s.gateways) return undefined
    cpuAtAll = cpuMs(next.pid)
    return back
  }, s.backTimeoutMs)
  const buckets = new Map<number, number>()
  for (const b of all) {
    const bucket = Math.floor((b.ts - startAt) / 100)
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1)
  }
  return {
    upstream: next,
    run: {
      lastMs: Math.max(...all.map(b => b.ts)) - startAt,
      seenAllMs: Math.max(...all.map(b => b.arrivedAt)) - startAt,
      firstMs: Math.min(...all.map(b => b.ts)) - startAt,
      peakPer100ms: Math.max(...buckets.values()),
      cpuMs: cpuAtAll,
    },
  }
}

export async function runFleet (dir: string, s: FleetSettings, cleanup: Cleanup, log: (line: string) => void): Promise<FleetResults> {
  const run = startRun()
  // the schema's default backoff
  const defaults = uplinkSchema.parse({ url: 'mqtt://upstream' }).backoff
  const restarts: FleetResults['restarts'] = []
  let ls: FleetResults['ls'] = { fleet: [], solo: [], help: [] }
  let standinRssMiB: number[] = []
  for (const jitter of [defaults.jitter, 0]) {
    const backoff = { ...defaults, jitter }
    const port = await freePort()
    const url = `mqtt://127.0.0.1:${port}`
    let upstream = await startUpstream(dir, port, cleanup)
    const { client, seen } = await watchStatuses(url, cleanup)
    log(`fleet: ${s.gateways} stand-in gateways (${s.processes} processes), jitter ${jitter}, on ${url}`)
    const standins = startStandins(url, 0, s.gateways, s.processes, backoff, cleanup)
    await until('every gateway online', () => (onlineSince(seen, 0).length >= s.gateways ? true : undefined), 30_000, 20)
    await new Promise(resolve => setTimeout(resolve, s.settleMs))

    if (jitter === defaults.jitter) {
      standinRssMiB = standins.map(p => rssMiB(p.pid))
      // the baseline: the same command against a second Mosquitto with one gateway on it
      const soloPort = await freePort()
      const soloUrl = `mqtt://127.0.0.1:${soloPort}`
      const solo = await startUpstream(dir, soloPort, cleanup)
      const soloStandin = startStandins(soloUrl, s.gateways, 1, 1, backoff, cleanup)
      await (soloStandin[0] as Proc).waitLine(/^connect /, 10_000)
      await new Promise(resolve => setTimeout(resolve, 500))
      const fleetRuns: LsRun[] = []
      const soloRuns: LsRun[] = []
      const helpRuns: LsRun[] = []
      for (let round = 0; round <= s.lsRuns; round++) { // round 0: warm-up
        const f = await fleetLs(url)
        const o = await fleetLs(soloUrl)
        const h = await fleetLs(undefined)
        log(`fleet ls round ${round}: ${f.ms.toFixed(0)} ms (${f.online}/${f.listed} online, exit ${f.code}), 1 gateway ${o.ms.toFixed(0)} ms (${o.online}/${o.listed}, exit ${o.code}), --help ${h.ms.toFixed(0)} ms`)
        if (f.listed !== s.gateways || f.online !== s.gateways || f.code !== 0) throw new Error(`fleet ls listed ${f.listed} gateways, ${f.online} online (exit ${f.code}): expected ${s.gateways}`)
        if (o.listed !== 1 || o.code !== 0) throw new Error(`fleet ls on the 1-gateway upstream listed ${o.listed} (exit ${o.code})`)
        if (round === 0) continue
        fleetRuns.push(f)
        soloRuns.push(o)
        helpRuns.push(h)
      }
      ls = { fleet: fleetRuns, solo: soloRuns, help: helpRuns }
      for (const p of soloStandin) await p.stop()
      await solo.stop()
    }

    const runs: RestartRun[] = []
    for (let i = 1; i <= s.restarts; i++) {
      const round = await restartRound(dir, port, upstream, seen, s, cleanup)
      upstream = round.upstream
      runs.push(round.run)
      log(`fleet restart ${i}, jitter ${jitter}: all ${s.gateways} back ${round.run.lastMs} ms after Mosquitto's start (first ${round.run.firstMs} ms, watcher had them all at ${round.run.seenAllMs} ms), peak ${round.run.peakPer100ms} connects / 100 ms, Mosquitto CPU ${round.run.cpuMs} ms`)
      await new Promise(resolve => setTimeout(resolve, s.settleMs))
    }
    restarts.push({ jitter, runs })
    for (const p of standins) await p.stop()
    await client.endAsync().catch(() => {})
    await upstream.stop()
  }
  return { ran: describeRun(run), backoff: defaults, ls, standinRssMiB, restarts }
}

export const FLEET_HEADING = '## Fleet scale'

const row = (cells: string[]): string => `| ${cells.join(' | ')} |`

export function renderFleet (r: FleetResults, s: FleetSettings): string {
  const lsFleet = median(r.ls.fleet.map(x => x.ms))
  const lsSolo = median(r.ls.solo.map(x => x.ms))
  const lsHelp = median(r.ls.help.map(x => x.ms))
  const soloSpread = Math.max(...r.ls.solo.map(x => x.ms)) - Math.min(...r.ls.solo.map(x => x.ms))
  const [spread, lockstep] = r.restarts
  const med = (runs: RestartRun[] | undefined, f: (x: RestartRun) => number): number => median((runs ?? []).map(f))
  const b = r.backoff
  const restartRows = r.restarts.map(({ jitter, runs }) => row([
    `${jitter}${jitter === b.jitter ? ' (default)' : ' (baseline: lockstep)'}`,
    `${median(runs.map(x => x.lastMs)).toFixed(0)} ms`,
    runs.map(x => `${x.lastMs}`).join(', '),
    `${median(runs.map(x => x.firstMs)).toFixed(0)} ms`,
    `${Math.max(...runs.map(x => x.peakPer100ms))}`,
    `${median(runs.map(x => x.cpuMs)).toFixed(0)} ms (${runs.map(x => x.cpuMs).join(', ')})`,
  ]))
  return [
    FLEET_HEADING,
    '',
    `${r.ran} \`npm run bench -- fleet\` runs this section alone.`,
    '',
    `**A stand-in, not ${s.gateways} real gateways.** ${s.gateways} cores with one module each would be ${3 * s.gateways} Node processes (a core, its module and the uplink module each) on this ${os.cpus().length}-core machine: ≈ 57 MiB of USS per gateway (the core 19, an idle module 12.5, the uplink 26, from "Memory" and "Uplink" above), ≈ ${(s.gateways * 57 / 1024).toFixed(1)} GiB in all, which the ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB here would hold, but starting them (a bare \`node -e 0\` alone takes 0.1 s here) and their supervision, timers and local brokers would keep both cores busy, so what would be measured is the gateways' own CPU, not the upstream's and the uplink's reconnect. Instead ${s.processes} processes × ${Math.ceil(s.gateways / s.processes)} gateways (bench/fleet-standin.ts) run, per gateway, the uplink's real connection code — \`connectUpstream\` of modules/uplink/upstream.ts (a fresh mqtt.js client per attempt, the jittered backoff, the Last Will \`offline\` retained, the packet guard, the subscription to its requests) with the real topic map \`fleetTopics\` — and publish on every connect the retained status document with the keys of the uplink's \`statusOf\` (state, fleetId, version, ts, since, modules, queue; no modules and an empty queue, there being no core behind it). Gateways \`${gatewayId(0)}\`…\`${gatewayId(s.gateways - 1)}\`; the stand-in processes' RSS ${r.standinRssMiB.map(x => x.toFixed(0)).join(', ')} MiB. The upstream: Mosquitto (${MOSQUITTO}), anonymous, loopback TCP, persistence off.`,
    '',
    '### `outpost fleet ls`',
    '',
    `The real CLI (\`node build/core/cli/main.js fleet ls --via mqtt://127.0.0.1:<port> --json\`), one process per run, wall time from spawn to exit (Node's start included, and the ${300} ms of quiet after the last status by which the CLI knows the retained statuses are all in). Median of ${s.lsRuns} runs after a warm-up, alternating with the baseline: the same command against a second Mosquitto with 1 stand-in gateway online. Every run's JSON listed all ${s.gateways} gateways online (1 for the baseline), exit 0.`,
    '',
    '| gateways online | median | runs (ms) |',
    '|---|---|---|',
    row([`${s.gateways}`, `${lsFleet.toFixed(0)} ms`, r.ls.fleet.map(x => x.ms.toFixed(0)).join(', ')]),
    row(['1 (baseline)', `${lsSolo.toFixed(0)} ms`, r.ls.solo.map(x => x.ms.toFixed(0)).join(', ')]),
    row(['ratio 100 / 1', `${(lsFleet / lsSolo).toFixed(2)}×`, '']),
    row(['— (`fleet ls --help`: the CLI\'s start and exit alone)', `${lsHelp.toFixed(0)} ms`, r.ls.help.map(x => x.ms.toFixed(0)).join(', ')]),
    '',
    `- Reading ${s.gateways} retained statuses instead of 1: ${(lsFleet - lsSolo).toFixed(0)} ms between the medians, ${Math.abs(lsFleet - lsSolo) <= soloSpread ? 'within' : 'outside'} the baseline runs' spread (${soloSpread.toFixed(0)} ms from fastest to slowest). The run is the CLI's start (${lsHelp.toFixed(0)} ms for \`--help\` on this loaded machine), the connection and subscription, and the ${300} ms of quiet it waits for after the last byte.`,
    '',
    '### The upstream restarts',
    '',
    `Every gateway online, Mosquitto is sent SIGTERM, and started again on the same port as soon as it has exited. Measured from that start (the moment of the spawn) until the last gateway's online status (its \`ts\`, taken as the stand-in publishes it in onConnect; an mqtt.js subscriber on \`outpost/+/status\` reconnecting every 20 ms collects them): "all back". Connects per 100 ms window are counted from the same \`ts\`. Mosquitto's CPU is utime + stime of the new process (/proc/<pid>/stat, 10 ms ticks) from its start to the moment all were back, its own start-up included. The schema's default backoff, not shortened: initialMs ${b.initialMs}, maxMs ${b.maxMs}, factor ${b.factor}; each gateway's first attempt after the loss comes after ${b.initialMs} × (1 − jitter × r) ms, so the restart (≈ the time Mosquitto takes to exit and start, tens of ms) is within the first delay. ${s.restarts} restarts per setting, ${s.settleMs / 1000} s apart; the baseline in the same run is jitter 0: every gateway reconnecting in lockstep.`,
    '',
    '| jitter | all back (median) | each restart (ms) | first back (median) | peak connects / 100 ms | Mosquitto CPU to all back (median, each) |',
    '|---|---|---|---|---|---|',
    ...restartRows,
    '',
    `- Jitter ${b.jitter} spreads the reconnects over [${b.initialMs * (1 - b.jitter)}, ${b.initialMs}] ms after the loss: the first gateway was back after a median ${med(spread?.runs, x => x.firstMs).toFixed(0)} ms, the last after ${med(spread?.runs, x => x.lastMs).toFixed(0)} ms, at most ${Math.max(...(spread?.runs ?? []).map(x => x.peakPer100ms))} connects in one 100 ms window. In lockstep (jitter 0) they came back between ${med(lockstep?.runs, x => x.firstMs).toFixed(0)} and ${med(lockstep?.runs, x => x.lastMs).toFixed(0)} ms, up to ${Math.max(...(lockstep?.runs ?? []).map(x => x.peakPer100ms))} of the ${s.gateways} in one window (per restart ${(lockstep?.runs ?? []).map(x => x.peakPer100ms).join(', ')}: the ${s.processes} processes' timers and the handshakes, queued on 2 loaded cores, spread even a lockstep over about a hundred ms). So jitter hardly changes when the whole fleet is back (the last gateway still waits up to the undivided delay; here the medians differ by ${(med(lockstep?.runs, x => x.lastMs) - med(spread?.runs, x => x.lastMs)).toFixed(0)} ms, lockstep's handshakes queueing behind each other): what it changes is the peak the upstream takes at once.`,
    `- Mosquitto's CPU over the reconnect: ${med(spread?.runs, x => x.cpuMs).toFixed(0)} ms with jitter, ${med(lockstep?.runs, x => x.cpuMs).toFixed(0)} ms in lockstep (median; 10 ms ticks, its start-up included): ${s.gateways} plain-TCP connects with a subscription and a retained status each are no load for it either way, and the difference is within the ticks' resolution. Where the peak would matter (not measured here) is with TLS handshakes or fleets of thousands, where one window's connects can cost the upstream more than the window.`,
    '',
  ].join('\n')
}

/** the section as `npm run bench` writes it (one line in run.ts) */
export async function fleetSection (dir: string, cleanup: Cleanup, log: (line: string) => void): Promise<string> {
  const own = path.join(dir, 'fleet')
  // the first folder made: `dir` itself when an earlier section's cleanup removed it
  const made = mkdirSync(own, { recursive: true }) ?? own
  cleanup.add(`remove ${made}`, () => rmSync(made, { recursive: true, force: true }))
  const results = await runFleet(own, FLEET, cleanup, log)
  await cleanup.run()
  return renderFleet(results, FLEET)
}
