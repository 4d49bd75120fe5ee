// The benchmark report: docs/benchmarks.md, also printed. Every target is a ratio against a baseline
// measured in the same run, so a slow or noisy machine moves both sides.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { installRoot } from '../core/paths.js'
import { SETTLE_MS } from './memory.js'
import type { BrokerMemory, IdleMemory } from './memory.js'
import type { RpcPathResult, RpcSettings } from './rpc.js'
import type { ThroughputResult, ThroughputSettings } from './throughput.js'
import { MOSQUITTO } from './lib/stacks.js'
import type { CoreLaunch } from './lib/stacks.js'
import { pairedRatio } from './lib/stats.js'

export interface Target {
  what: string
  measured: string
  baseline: string
  ratio: string
  target: string
  pass: boolean
}

/** A ratio reported for information, without a goal: not counted among the targets. */
export type Comparison = Omit<Target, 'target' | 'pass'>

/**
 * One Outpost core, with the environment and node flags it ran with: the first is this checkout's core as `npm start` runs it, the
 * second the same at the baseline commit (`before`), to measure what the changes since then cost.
 */
export interface CoreRun {
  label: string
  launch: CoreLaunch
  idle: IdleMemory
  peakRssMiB: number
  /** private memory (smaps_rollup), sampled a few times a second over the RPC and throughput loads */
  peakUssMiB: number
  rpc: RpcPathResult
  throughput: ThroughputResult
}

export interface Results {
  startedAt: Date
  /** the baseline commit the second core was built from */
  before: string
  durationS: number
  cores: CoreRun[]
  rpc: { settings: RpcSettings, requestBytes: number, raw: RpcPathResult, relay: RpcPathResult, mosquitto: RpcPathResult }
  throughput: { settings: ThroughputSettings, mosquitto: ThroughputResult }
  mosquittoPeakRssMiB: number
  /** Aedes with its defaults and nothing of the core: the floor of any Aedes-based broker */
  aedes: { label: string, idle: BrokerMemory, peakRssMiB: number, rpc: RpcPathResult, throughput: ThroughputResult }
}

const us = (n: number): string => `${n.toFixed(0)} µs`
const mib = (n: number): string => `${n.toFixed(1)} MiB`
const rate = (n: number): string => n.toFixed(0)
const times = (n: number): string => `${n.toFixed(2)}×`
const launchText = ({ env, flags }: CoreLaunch): string => [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...flags].map(w => `\`${w}\``).join(' ') || '(none)'

function table (head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n')
}

function targetTable (targets: Target[], comparisons: Comparison[] = []): string {
  return table(['target', 'measured', 'baseline', 'ratio', 'goal', 'result'], [
    ...targets.map(t => [t.what, t.measured, t.baseline, t.ratio, t.target, t.pass ? 'PASS' : '**MISS**']),
    ...comparisons.map(c => [c.what, c.measured, c.baseline, c.ratio, '—', '—']),
  ])
}

/** The targets, judged on the core as `npm start` runs it (the first core run). */
export function targets (r: Results): { rpc: Target[], rpcInfo: Comparison[], throughput: Target[], throughputAedes: Comparison[], change: Target[], memory: Target[] } {
  const [core, before] = r.cores
  if (core === undefined || before === undefined) throw new Error('the core and its baseline were not both measured')
  const { raw, relay, mosquitto } = r.rpc
  const ours = core.rpc
  const inflight = r.rpc.settings.parallel.inflight
  const p50s = (p: RpcPathResult, mode: 'sequential' | 'parallel'): number[] => (mode === 'sequential' ? p.rounds.sequentialP50Us : p.rounds.parallelP50Us)
  const p50Ratio = (a: RpcPathResult, b: RpcPathResult, mode: 'sequential' | 'parallel'): number => pairedRatio(p50s(a, mode), p50s(b, mode))
  const modeName = (mode: 'sequential' | 'parallel'): string => (mode === 'sequential' ? 'sequential' : `${inflight} in flight`)
  const latency = (mode: 'sequential' | 'parallel'): Target[] => {
    const vsMosquitto = p50Ratio(ours, mosquitto, mode)
    const vsRelay = p50Ratio(ours, relay, mode)
    return [
      { what: `${modeName(mode)} p50 vs Mosquitto`, measured: us(ours[mode].p50Us), baseline: us(mosquitto[mode].p50Us), ratio: times(vsMosquitto), target: '≤ 1×', pass: vsMosquitto <= 1 },
      { what: `${modeName(mode)} p50 vs the relay floor`, measured: us(ours[mode].p50Us), baseline: us(relay[mode].p50Us), ratio: times(vsRelay), target: '≤ 2×', pass: vsRelay <= 2 },
    ]
  }
  const info = (mode: 'sequential' | 'parallel'): Comparison[] => [
    { what: `${modeName(mode)} p50 vs raw socket`, measured: us(ours[mode].p50Us), baseline: us(raw[mode].p50Us), ratio: times(p50Ratio(ours, raw, mode)) },
    { what: `Mosquitto's ${modeName(mode)} p50 vs the relay floor`, measured: us(mosquitto[mode].p50Us), baseline: us(relay[mode].p50Us), ratio: times(p50Ratio(mosquitto, relay, mode)) },
    { what: `${modeName(mode)} p50 vs bare Aedes`, measured: us(ours[mode].p50Us), baseline: us(r.aedes.rpc[mode].p50Us), ratio: times(p50Ratio(ours, r.aedes.rpc, mode)) },
  ]
  const callsRatio = pairedRatio(ours.rounds.parallelCallsPerSec, mosquitto.rounds.parallelCallsPerSec)
  const ourRate = core.throughput.run.perSec
  const theirRate = r.throughput.mosquitto.run.perSec
  const rateRatio = pairedRatio(core.throughput.rounds, r.throughput.mosquitto.rounds)
  const change = (mode: 'sequential' | 'parallel'): Target => {
    const ratio = p50Ratio(ours, before.rpc, mode)
    return { what: `${modeName(mode)} RPC p50 vs ${before.label}`, measured: us(ours[mode].p50Us), baseline: us(before.rpc[mode].p50Us), ratio: times(ratio), target: '≤ 1.05×', pass: ratio <= 1.05 }
  }
  const rateVsBefore = pairedRatio(core.throughput.rounds, before.throughput.rounds)
  const { idle } = core
  const { aedes } = r
  const rssAtRest = idle.core.rssMiB / aedes.idle.rssMiB
  const rssPeak = core.peakRssMiB / aedes.peakRssMiB
  return {
    rpc: [
      ...latency('sequential'),
      ...latency('parallel'),
      { what: `${inflight} in flight calls/s vs Mosquitto`, measured: rate(ours.parallel.callsPerSec), baseline: rate(mosquitto.parallel.callsPerSec), ratio: times(callsRatio), target: '≥ 1×', pass: callsRatio >= 1 },
    ],
    rpcInfo: [...info('sequential'), ...info('parallel')],
    throughput: [
      { what: 'hook messages/s vs Mosquitto', measured: rate(ourRate), baseline: rate(theirRate), ratio: times(rateRatio), target: '≥ 1×', pass: rateRatio >= 1 },
    ],
    throughputAedes: [
      { what: 'hook messages/s vs bare Aedes', measured: rate(ourRate), baseline: rate(aedes.throughput.run.perSec), ratio: times(pairedRatio(core.throughput.rounds, aedes.throughput.rounds)) },
    ],
    change: [
      change('sequential'),
      change('parallel'),
      { what: `hook messages/s vs ${before.label}`, measured: rate(ourRate), baseline: rate(before.throughput.run.perSec), ratio: times(rateVsBefore), target: '≥ 0.95×', pass: rateVsBefore >= 0.95 },
    ],
    memory: [
      { what: 'core USS at rest', measured: mib(idle.core.ussMiB), baseline: `bare Aedes ${mib(aedes.idle.ussMiB)}`, ratio: times(idle.core.ussMiB / aedes.idle.ussMiB), target: '≤ 22 MiB', pass: idle.core.ussMiB <= 22 },
      { what: 'core USS peak under the benchmark load', measured: mib(core.peakUssMiB), baseline: '—', ratio: '—', target: '≤ 32 MiB', pass: core.peakUssMiB <= 32 },
      { what: 'core RSS at rest vs bare Aedes', measured: mib(idle.core.rssMiB), baseline: mib(aedes.idle.rssMiB), ratio: times(rssAtRest), target: '≤ 1×', pass: rssAtRest <= 1 },
      { what: 'core RSS peak under the benchmark load vs bare Aedes', measured: mib(core.peakRssMiB), baseline: mib(aedes.peakRssMiB), ratio: times(rssPeak), target: '≤ 1×', pass: rssPeak <= 1 },
      { what: 'idle module USS vs bare node (same flags)', measured: mib(idle.moduleUssMiB), baseline: mib(idle.bareUssMiB), ratio: `+${mib(idle.moduleUssMiB - idle.bareUssMiB)}`, target: '≤ +8 MiB', pass: idle.moduleUssMiB - idle.bareUssMiB <= 8 },
    ],
  }
}

function mosquittoVersion (): string {
  // `mosquitto -h` prints its version and exits with status 3
  let text: string
  try {
    text = execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8' })
  } catch (err) {
    text = String((err as { stdout?: unknown }).stdout ?? '')
  }
  return /mosquitto version (\S+)/.exec(text)?.[1] ?? 'unknown'
}

function aedesVersion (): string {
  const pkg = JSON.parse(readFileSync(path.join(installRoot, 'node_modules/aedes/package.json'), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

function machine (r: Results): string {
  const cpus = os.cpus()
  return table(['machine', ''], [
    ['date', r.startedAt.toISOString()],
    ['node', process.version],
    ['CPUs', `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`],
    ['memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['kernel', `${os.type()} ${os.release()} ${os.arch()}`],
    ['Mosquitto', mosquittoVersion()],
    ['Aedes', aedesVersion()],
    ['sections 1–3 took', `${r.durationS.toFixed(0)} s`],
  ])
}

export function renderReport (r: Results): string {
  const t = targets(r)
  const all = [...t.rpc, ...t.throughput, ...t.change, ...t.memory]
  const { settings: rs, raw, relay, mosquitto } = r.rpc
  const ts = r.throughput.settings
  const rpcRow = (p: RpcPathResult): string[] => [p.label, us(p.sequential.p50Us), us(p.sequential.p99Us), rate(p.sequential.callsPerSec), us(p.parallel.p50Us), us(p.parallel.p99Us), rate(p.parallel.callsPerSec)]
  const tpRow = (x: ThroughputResult): string[] => [x.label, rate(x.run.perSec), x.rounds.map(rate).join(', '), `${x.run.received} / ${x.run.sent}`, `${x.run.messageBytes} B`]
  const [core, before] = r.cores
  if (core === undefined || before === undefined) throw new Error('the core and its baseline were not both measured')
  const { idle } = core
  const rpcPaths = [raw, relay, ...r.cores.map(c => c.rpc), mosquitto, r.aedes.rpc]
  const settle = `${SETTLE_MS / 1000} s`
  return `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); do not edit by hand. **Sections 1–4: ${all.filter(x => x.pass).length} of ${all.length} targets met.**
Every target is a ratio against a baseline measured in the same run: on this kind of machine figures move
±20% from run to run. Rounds alternate between the paths compared; each figure is the median round, and
each ratio between two paths is the median of their per-round ratios (a round runs every path back to
back, so its ratio cancels the machine's drift between rounds).
Targets are judged on the core as \`npm start\` runs it (${launchText(core.launch)}). The same
core at the baseline commit \`${r.before}\` (${before.label}), built beside this checkout with the same
dependencies, runs alongside in every section, so what the changes since then cost is measured in this run.
Release bundles (size, files, first start) are measured by \`npm run release\`: [deploy.md](deploy.md#figures).

${machine(r)}

## 1. RPC round trip, module → module

A caller module calls \`echo\` on another module with the SDK (\`m.call\`); both are real module processes
with the V8 flags the core gives modules. On Outpost the core spawns both and they reach its embedded
broker over its Unix socket; on Mosquitto the same programs connect over loopback TCP, and on the bare
Aedes (Aedes ${aedesVersion()} with its defaults and none of the core, run as \`npm start\` runs the core) over a Unix
socket. The bare Aedes is for information: it shows what the core's own broker work adds or saves. The raw baseline
is a length-prefixed echo of a request of the same size (${r.rpc.requestBytes} bytes) between two Node processes over a
Unix socket, timed by the same loop. The relay floor is that echo through a third Node process that
forwards the frames between client and echo server: four socket hops, as through any broker, with no MQTT
parsing or routing, so the least a broker can take on this machine. Sequential: one call at a time, ${rs.sequential.count} calls; in flight: ${rs.parallel.inflight} calls at once,
${rs.parallel.count} calls; ${rs.rounds} rounds after ${rs.warmupRounds} warm-up round.

${table(['path', 'sequential p50', 'p99', 'calls/s', `${rs.parallel.inflight} in flight p50`, 'p99', 'calls/s'], rpcPaths.map(rpcRow))}

Each round's p50, in the order run (the figures above are the median rounds):

${table(['path', 'sequential p50 by round (µs)', `${rs.parallel.inflight} in flight p50 by round (µs)`], rpcPaths.map(p => [p.label, p.rounds.sequentialP50Us.map(rate).join(', '), p.rounds.parallelP50Us.map(rate).join(', ')]))}

${targetTable(t.rpc, t.rpcInfo)}

## 2. Hook throughput, one publisher → one subscriber

A publisher module emits a hook (QoS 0, ${r.throughput.mosquitto.run.messageBytes}-byte CBOR message) that a subscriber module counts;
the rate is the subscriber's, from its first message to its last. The publisher stays at most ${ts.window}
messages ahead of what the subscriber has reported (it reports every 250): an unbounded QoS 0 producer
only fills buffers, and Mosquitto drops QoS 0 messages beyond its queue. ${ts.count} messages per round,
${ts.rounds} rounds after ${ts.warmupRounds} warm-up round.

${table(['broker', 'messages/s', 'rounds', 'received / sent', 'message'], [...r.cores.map(c => c.throughput), r.throughput.mosquitto, r.aedes.throughput].map(tpRow))}

${targetTable(t.throughput, t.throughputAedes)}

## 3. Memory

Readings after ${settle} at rest with every benchmark module connected, and each broker's peak over the RPC
and throughput benchmarks (RSS sampled every 50 ms; the cores' USS every 250 ms). USS is Private_Clean +
Private_Dirty from /proc/<pid>/smaps_rollup: what the process alone costs the board. The rest of a Node
process's RSS is mostly the node binary's pages, shared by every node process on the board. The core's RSS
is measured against the bare Aedes of sections 1 and 2, which served the same load with the same node
flags: what any core built on Aedes in Node starts from.

${table(['process', 'RSS', 'of which file-backed', 'USS'], [
    ...r.cores.flatMap(c => [
      [`${c.label} at rest`, mib(c.idle.core.rssMiB), mib(c.idle.core.rssFileMiB), mib(c.idle.core.ussMiB)],
      [`${c.label}, peak under load`, mib(c.peakRssMiB), '—', mib(c.peakUssMiB)],
    ]),
    [`${r.aedes.label} at rest`, mib(r.aedes.idle.rssMiB), mib(r.aedes.idle.rssFileMiB), mib(r.aedes.idle.ussMiB)],
    [`${r.aedes.label}, peak under load`, mib(r.aedes.peakRssMiB), '—', '—'],
    ['idle module (SDK, connected)', '—', '—', mib(idle.moduleUssMiB)],
    ['bare `node -e` (module flags)', '—', '—', mib(idle.bareUssMiB)],
    ['bare `node -e` (no flags)', '—', '—', mib(idle.bareNoFlagsUssMiB)],
    ['Mosquitto, peak under load', mib(r.mosquittoPeakRssMiB), '—', '—'],
  ])}

${targetTable(t.memory)}

## 4. What the changes since \`${r.before}\` cost

The same benchmarks, this checkout's core against the core at the baseline commit, each with its own
module SDK and the environment and node flags its own \`npm start\` used. A change may cost at most 5% of the RPC p50 or of
the hook throughput.

${table(['core', 'environment and node flags', 'sequential RPC p50', `${rs.parallel.inflight} in flight p50`, 'hook messages/s', 'USS at rest', 'USS peak', 'RSS at rest', 'RSS peak'], r.cores.map(c => [c.label, launchText(c.launch), us(c.rpc.sequential.p50Us), us(c.rpc.parallel.p50Us), rate(c.throughput.run.perSec), mib(c.idle.core.ussMiB), mib(c.peakUssMiB), mib(c.idle.core.rssMiB), mib(c.peakRssMiB)]))}

${targetTable(t.change)}

## What limits these figures

- **Hops.** The raw baseline crosses two sockets per call; a call through any broker crosses four
  (caller → broker → callee → broker → caller), and on a virtual machine each write that wakes another
  process costs tens of microseconds of CPU. The relay floor crosses the four with no broker work: in this
  run its sequential p50 is ${times(pairedRatio(relay.rounds.sequentialP50Us, raw.rounds.sequentialP50Us))} the raw socket's, and Mosquitto's is
  ${times(pairedRatio(mosquitto.rounds.sequentialP50Us, raw.rounds.sequentialP50Us))} the raw socket's. This is why the latency goals are set against the relay floor and
  Mosquitto, not the raw socket.
- **The broker's work per message.** The same module programs run on both brokers, so the gap to
  Mosquitto is the embedded broker's. Hooks, requests and replies (QoS 0) take the core's direct path: one
  pass over each read, one access and routing decision, the packet written on to each subscriber as read. What
  remains per message is mostly Node's own: waking the event loop, a stream read and a write system call,
  which Mosquitto's C does with less; the bare Aedes pays the same, on top of its own parsing and
  matching. With many messages per read, the writes to one socket leave in one
  writev, which is why throughput and 32 in flight fare better than one call at a time.
- **RSS of a Node process.** The file-backed column is mostly the node binary's pages: shared with every
  other node process on the board, but counted in each one's RSS (in this run the bare Aedes, with none of
  the core, takes ${mib(r.aedes.idle.rssMiB)} at rest and ${mib(r.aedes.peakRssMiB)} under the same load). The private memory (USS) is
  the figure that adds up on a board, so the core's own goals are set in USS, and its RSS against the bare Aedes.
`
}
