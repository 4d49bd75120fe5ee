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

/** One Outpost core, with the flags it ran with: the first is the core as `npm start` runs it. */
export interface CoreRun {
  label: string
  flags: string[]
  idle: IdleMemory
  peakRssMiB: number
  rpc: RpcPathResult
  throughput: ThroughputResult
}

export interface Results {
  startedAt: Date
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
const flagsText = (flags: string[]): string => (flags.length === 0 ? '(none)' : flags.map(f => `\`${f}\``).join(' '))

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
export function targets (r: Results): { rpc: Target[], rpcFloor: Comparison[], throughput: Target[], throughputAedes: Comparison[], memory: Target[] } {
  const core = r.cores[0]
  if (core === undefined) throw new Error('no core was measured')
  const { raw, relay, mosquitto } = r.rpc
  const ours = core.rpc
  const inflight = r.rpc.settings.parallel.inflight
  const p50s = (p: RpcPathResult, mode: 'sequential' | 'parallel'): number[] => (mode === 'sequential' ? p.rounds.sequentialP50Us : p.rounds.parallelP50Us)
  const p50Ratio = (a: RpcPathResult, b: RpcPathResult, mode: 'sequential' | 'parallel'): number => pairedRatio(p50s(a, mode), p50s(b, mode))
  const latency = (mode: 'sequential' | 'parallel', name: string): Target[] => {
    const vsRaw = p50Ratio(ours, raw, mode)
    const vsMosquitto = p50Ratio(ours, mosquitto, mode)
    return [
      { what: `${name} p50 vs raw socket`, measured: us(ours[mode].p50Us), baseline: us(raw[mode].p50Us), ratio: times(vsRaw), target: '≤ 3×', pass: vsRaw <= 3 },
      { what: `${name} p50 vs Mosquitto`, measured: us(ours[mode].p50Us), baseline: us(mosquitto[mode].p50Us), ratio: times(vsMosquitto), target: '≤ 1×', pass: vsMosquitto <= 1 },
    ]
  }
  const callsRatio = pairedRatio(ours.rounds.parallelCallsPerSec, mosquitto.rounds.parallelCallsPerSec)
  const ourRate = core.throughput.run.perSec
  const theirRate = r.throughput.mosquitto.run.perSec
  const rateRatio = pairedRatio(core.throughput.rounds, r.throughput.mosquitto.rounds)
  const { idle } = core
  const { aedes } = r
  return {
    rpc: [
      ...latency('sequential', 'sequential'),
      ...latency('parallel', `${inflight} in flight`),
      { what: `${inflight} in flight calls/s vs Mosquitto`, measured: rate(ours.parallel.callsPerSec), baseline: rate(mosquitto.parallel.callsPerSec), ratio: times(callsRatio), target: '≥ 1×', pass: callsRatio >= 1 },
    ],
    rpcFloor: [
      { what: 'sequential p50 vs the relay floor', measured: us(ours.sequential.p50Us), baseline: us(relay.sequential.p50Us), ratio: times(p50Ratio(ours, relay, 'sequential')) },
      { what: 'Mosquitto\'s sequential p50 vs the relay floor', measured: us(mosquitto.sequential.p50Us), baseline: us(relay.sequential.p50Us), ratio: times(p50Ratio(mosquitto, relay, 'sequential')) },
      { what: 'sequential p50 vs bare Aedes', measured: us(ours.sequential.p50Us), baseline: us(aedes.rpc.sequential.p50Us), ratio: times(p50Ratio(ours, aedes.rpc, 'sequential')) },
    ],
    throughput: [
      { what: 'hook messages/s vs Mosquitto', measured: rate(ourRate), baseline: rate(theirRate), ratio: times(rateRatio), target: '≥ 1×', pass: rateRatio >= 1 },
    ],
    throughputAedes: [
      { what: 'hook messages/s vs bare Aedes', measured: rate(ourRate), baseline: rate(aedes.throughput.run.perSec), ratio: times(pairedRatio(core.throughput.rounds, aedes.throughput.rounds)) },
    ],
    memory: [
      { what: 'core RSS at rest (baseline: bare Aedes)', measured: mib(idle.core.rssMiB), baseline: mib(aedes.idle.rssMiB), ratio: times(idle.core.rssMiB / aedes.idle.rssMiB), target: '< 60 MiB', pass: idle.core.rssMiB < 60 },
      { what: 'core RSS peak under the throughput load (baseline: bare Aedes)', measured: mib(core.peakRssMiB), baseline: mib(aedes.peakRssMiB), ratio: times(core.peakRssMiB / aedes.peakRssMiB), target: '< 60 MiB', pass: core.peakRssMiB < 60 },
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

/** how the 60 MiB goal compares with the bare Aedes's own RSS */
function floorText (restMiB: number, loadMiB: number): string {
  const over = [restMiB >= 60 ? 'at rest' : '', loadMiB >= 60 ? 'under load' : ''].filter(Boolean)
  if (over.length === 0) return 'both under the 60 MiB goal'
  return `already at or over the 60 MiB goal ${over.join(' and ')}, before any of the core's own work`
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
  const all = [...t.rpc, ...t.throughput, ...t.memory]
  const { settings: rs, raw, relay, mosquitto } = r.rpc
  const ts = r.throughput.settings
  const rpcRow = (p: RpcPathResult): string[] => [p.label, us(p.sequential.p50Us), us(p.sequential.p99Us), rate(p.sequential.callsPerSec), us(p.parallel.p50Us), us(p.parallel.p99Us), rate(p.parallel.callsPerSec)]
  const tpRow = (x: ThroughputResult): string[] => [x.label, rate(x.run.perSec), x.rounds.map(rate).join(', '), `${x.run.received} / ${x.run.sent}`, `${x.run.messageBytes} B`]
  const core = r.cores[0]
  if (core === undefined) throw new Error('no core was measured')
  const { idle } = core
  const rpcPaths = [raw, relay, ...r.cores.map(c => c.rpc), mosquitto, r.aedes.rpc]
  const settle = `${SETTLE_MS / 1000} s`
  return `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); do not edit by hand. **Sections 1–3: ${all.filter(x => x.pass).length} of ${all.length} targets met.**
Every target is a ratio against a baseline measured in the same run: on this kind of machine figures move
±20% from run to run. Rounds alternate between the paths compared; each figure is the median round, and
each ratio between two paths is the median of their per-round ratios (a round runs every path back to
back, so its ratio cancels the machine's drift between rounds).
Targets are judged on the core as \`npm start\` runs it (node flags: ${flagsText(core.flags)}); a core with the
candidate flags of section 3 runs alongside for comparison.

${machine(r)}

## 1. RPC round trip, module → module

A caller module calls \`echo\` on another module with the SDK (\`m.call\`); both are real module processes
with the V8 flags the core gives modules. On Outpost the core spawns both and they reach its embedded
broker over its Unix socket; on Mosquitto the same programs connect over loopback TCP, and on the bare
Aedes (Aedes ${aedesVersion()} with its defaults and none of the core, run with the core's node flags) over a Unix
socket. The bare Aedes is for information: it shows what the core's own broker work adds or saves. The raw baseline
is a length-prefixed echo of a request of the same size (${r.rpc.requestBytes} bytes) between two Node processes over a
Unix socket, timed by the same loop. The relay floor is that echo through a third Node process that
forwards the frames between client and echo server: four socket hops, as through any broker, with no MQTT
parsing or routing, so the least a broker can take on this machine; its ratios below are for information
and have no goal. Sequential: one call at a time, ${rs.sequential.count} calls; in flight: ${rs.parallel.inflight} calls at once,
${rs.parallel.count} calls; ${rs.rounds} rounds after ${rs.warmupRounds} warm-up round.

${table(['path', 'sequential p50', 'p99', 'calls/s', `${rs.parallel.inflight} in flight p50`, 'p99', 'calls/s'], rpcPaths.map(rpcRow))}

Each round's p50, in the order run (the figures above are the median rounds):

${table(['path', 'sequential p50 by round (µs)', `${rs.parallel.inflight} in flight p50 by round (µs)`], rpcPaths.map(p => [p.label, p.rounds.sequentialP50Us.map(rate).join(', '), p.rounds.parallelP50Us.map(rate).join(', ')]))}

${targetTable(t.rpc, t.rpcFloor)}

## 2. Hook throughput, one publisher → one subscriber

A publisher module emits a hook (QoS 0, ${r.throughput.mosquitto.run.messageBytes}-byte CBOR message) that a subscriber module counts;
the rate is the subscriber's, from its first message to its last. The publisher stays at most ${ts.window}
messages ahead of what the subscriber has reported (it reports every 250): an unbounded QoS 0 producer
only fills buffers, and Mosquitto drops QoS 0 messages beyond its queue. ${ts.count} messages per round,
${ts.rounds} rounds after ${ts.warmupRounds} warm-up round.

${table(['broker', 'messages/s', 'rounds', 'received / sent', 'message'], [...r.cores.map(c => c.throughput), r.throughput.mosquitto, r.aedes.throughput].map(tpRow))}

${targetTable(t.throughput, t.throughputAedes)}

## 3. Memory

Readings after ${settle} at rest with every benchmark module connected, and each broker's peak RSS (sampled
every 50 ms) over the whole throughput benchmark. USS is Private_Clean + Private_Dirty from
/proc/<pid>/smaps_rollup; the rest of a Node process's RSS is mostly the node binary's pages, shared by
every node process on the board. The core's RSS is measured against the bare Aedes of sections 1 and 2,
which served the same load with the same node flags: what any core built on Aedes in Node starts from.

${table(['process', 'RSS', 'of which file-backed', 'USS'], [
    ...r.cores.flatMap(c => [
      [`${c.label} at rest`, mib(c.idle.core.rssMiB), mib(c.idle.core.rssFileMiB), mib(c.idle.core.ussMiB)],
      [`${c.label}, peak under load`, mib(c.peakRssMiB), '—', '—'],
    ]),
    [`${r.aedes.label} at rest`, mib(r.aedes.idle.rssMiB), mib(r.aedes.idle.rssFileMiB), mib(r.aedes.idle.ussMiB)],
    [`${r.aedes.label}, peak under load`, mib(r.aedes.peakRssMiB), '—', '—'],
    ['idle module (SDK, connected)', '—', '—', mib(idle.moduleUssMiB)],
    ['bare `node -e` (module flags)', '—', '—', mib(idle.bareUssMiB)],
    ['bare `node -e` (no flags)', '—', '—', mib(idle.bareNoFlagsUssMiB)],
    ['Mosquitto, peak under load', mib(r.mosquittoPeakRssMiB), '—', '—'],
  ])}

${targetTable(t.memory)}

### The core's V8 flags

The same core, started with the candidate flags of bench/memory.ts, ran alongside in every benchmark above.

${table(['core', 'node flags', 'RSS at rest', 'USS at rest', 'RSS peak under load', 'hook messages/s', 'sequential RPC p50'], r.cores.map(c => [c.label, flagsText(c.flags), mib(c.idle.core.rssMiB), mib(c.idle.core.ussMiB), mib(c.peakRssMiB), rate(c.throughput.run.perSec), us(c.rpc.sequential.p50Us)]))}

## What limits these figures

- **Hops.** The raw baseline crosses two sockets per call; a call through any broker crosses four
  (caller → broker → callee → broker → caller), and on a virtual machine each write that wakes another
  process costs tens of microseconds of CPU. The relay floor crosses the four with no broker work: in this
  run its sequential p50 is ${times(pairedRatio(relay.rounds.sequentialP50Us, raw.rounds.sequentialP50Us))} the raw socket's, which leaves a broker ${us(Math.max(0, 3 * raw.sequential.p50Us - relay.sequential.p50Us))} of its own work per call
  within 3× the raw socket; Mosquitto's sequential p50 is ${times(pairedRatio(mosquitto.rounds.sequentialP50Us, raw.rounds.sequentialP50Us))} the raw socket's.
- **The broker's work per message.** The same module programs run on both brokers, so the gap to
  Mosquitto is the embedded broker's. Hooks, requests and replies (QoS 0) take the core's direct path: one
  pass over each read, one access and routing decision, the packet written on to each subscriber as read. What
  remains per message is mostly Node's own: waking the event loop, a stream read and a write system call,
  which Mosquitto's C does with less; the bare Aedes pays the same, on top of its own parsing and
  matching. With many messages per read, the writes to one socket leave in one
  writev, which is why throughput and 32 in flight fare better than one call at a time.
- **RSS of a Node process.** The file-backed column is mostly the node binary's pages: shared with every
  other node process on the board, but counted in each one's RSS. About 8 MiB of it is V8's optimizing
  compilers, paged in once hot code is optimized (the bare Aedes pages them in too); the core without them
  (the candidate flags above) shows what leaving them out saves in memory and costs in speed. In this run
  the bare Aedes, with none of the core, takes ${mib(r.aedes.idle.rssMiB)} at rest and ${mib(r.aedes.peakRssMiB)} under the same load
  (${floorText(r.aedes.idle.rssMiB, r.aedes.peakRssMiB)}). The private memory (USS) is the figure that adds up on a board.
`
}
