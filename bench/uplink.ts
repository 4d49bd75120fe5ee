// The uplink's section of docs/benchmarks.md (issue 11), against a local Mosquitto as the upstream:
// (a) what the uplink costs: hooks/s from a module to a subscriber on the upstream through the uplink against
//     the same module publishing there directly (uplink-e2e.ts, issue 11's target); and hook throughput and RPC
//     p50, module → module, on a gateway whose uplink forwards its hooks, against the same gateway without it;
// (b) store-and-forward: the queue's write cost (the same throughput with every hook stored while the upstream
//     is down) and the drain rate once it is back (records acknowledged by the upstream per second);
// (c) the uplink process's USS at rest and its peak under that load;
// (d) bytes the uplink process makes the kernel write to disk (/proc/<pid>/io write_bytes) per hour under a
//     steady load, every hook stored, with the default fsync policy.
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import mqtt from 'mqtt'
import { uplinkSchema } from '../core/manifest/uplink-schema.js'
import type { Cleanup } from './lib/cleanup.js'
import { cpuMs, ussMiB, samplePeak } from './lib/procfs.js'
import type { Proc } from './lib/proc.js'
import { PROGRESS_EVERY, benchNames, freePort, npmStart, startCore, startUpstreamMosquitto } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'
import { median, pairedRatio } from './lib/stats.js'
import { runRpc, sdkPath } from './rpc.js'
import type { RpcPathResult, RpcSettings } from './rpc.js'
import { runThroughput, throughputRound } from './throughput.js'
import { runEndToEnd } from './uplink-e2e.js'
import type { CpuPerMessage, EndToEndResults } from './uplink-e2e.js'
import type { ThroughputResult, ThroughputSettings } from './throughput.js'

export interface UplinkSettings {
  rpc: RpcSettings
  throughput: ThroughputSettings
  settleMs: number
  /** the steady load of (d): sensors × one hook every everyMs, dataBytes of CBOR each */
  load: { sensors: number, everyMs: number, dataBytes: number }
  diskWindowMs: number
}

export const UPLINK: UplinkSettings = {
  rpc: { warmupRounds: 1, rounds: 5, sequential: { count: 2000, inflight: 1, maxMs: 3000, warmup: 300 }, parallel: { count: 20_000, inflight: 32, maxMs: 3000, warmup: 2000 } },
  throughput: { warmupRounds: 1, rounds: 5, count: 50_000, window: 4000, maxMs: 6000 },
  settleMs: 5000,
  load: { sensors: 10, everyMs: 1000, dataBytes: 60 },
  diskWindowMs: 60_000,
}

interface UplinkStats {
  connected: boolean
  queue: { records: number, bytes: number, lastSeq: number, fsyncs: number, dropped: { full: number } }
  hooks: { up: number, stored: number, dropped: { offline: number, backlog: number } }
}

export interface UplinkResults {
  startedAt: Date
  endToEnd: EndToEndResults
  rpc: { plain: RpcPathResult, linked: RpcPathResult }
  throughput: { plain: ThroughputResult, linked: ThroughputResult, stored: number[], storedPlain: number[] }
  forwarded: { up: number, backlogDropped: number, offlineDropped: number }
  queue: { writePerSec: number, records: number, bytes: number, fsyncs: number }
  /** cpuUs: CPU time per drained record of the uplink process and of Mosquitto, from the reconnect to the last acknowledgement */
  drain: { records: number, ms: number, perSec: number, receivedUpstream: number, cpuUs: { uplink: number, upstream: number } }
  ussMiB: { rest: number, peakForwarding: number, peakStoring: number }
  disk: { windowMs: number, writeBytes: number, records: number, fsyncs: number }
}

/** Mosquitto as the fleet's upstream, as the uplink's tests use it without TLS */
const startUpstream = (dir: string, port: number, cleanup: Cleanup): Promise<Proc> => startUpstreamMosquitto('upstream mosquitto', dir, port, cleanup)

const stats = (stack: Stack): Promise<UplinkStats> => stack.control.call<UplinkStats>('uplink', 'stats', null, 10_000)

async function uplinkPid (stack: Stack): Promise<number> {
  const list = await stack.control.call<Array<{ module: string, instances: Array<{ pid: number | null }> }>>('core', 'list', null, 10_000)
  const pid = list.find(m => m.module === 'uplink')?.instances[0]?.pid
  if (typeof pid !== 'number') throw new Error('the uplink is not running')
  return pid
}

async function until<T> (what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`uplink bench: no ${what} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

const writeBytes = (pid: number): number => Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)

export async function runUplink (dir: string, s: UplinkSettings, cleanup: Cleanup, log: (line: string) => void): Promise<UplinkResults> {
  const startedAt = new Date()
  log('uplink: end to end, a module\'s hooks to a subscriber on the upstream, through the uplink and directly')
  const endToEnd = await runEndToEnd(dir, s.throughput, cleanup, log)
  const port = await freePort()
  const url = `mqtt://127.0.0.1:${port}`
  let upstream = await startUpstream(dir, port, cleanup)
  const launch = npmStart()
  const plainNames = benchNames('-u0')
  const linkedNames = benchNames('-u1')
  const plain = await startCore('outpost', path.join(dir, 'uplink-plain'), launch, plainNames, cleanup)
  const uplinkBase = { url, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 1000 } }
  log('uplink: a gateway with the uplink connected to a local Mosquitto, forwarding its hooks (QoS 0)')
  const linked = await startCore('outpost with the uplink', path.join(dir, 'uplink-linked'), launch, linkedNames, cleanup, {
    uplink: { ...uplinkBase, fleetId: 'bench-a', hooks: [{ filter: `${linkedNames.pub}/tick`, qos: 0 }] },
  })
  // the uplink answers once it is running (UNAVAILABLE while it starts)
  await until('uplink connection', async () => ((await stats(linked).catch(() => undefined))?.connected === true ? true : undefined), 20_000)
  await new Promise(resolve => setTimeout(resolve, s.settleMs))
  let pid = await uplinkPid(linked)
  const rest = ussMiB(pid)
  let sampler = samplePeak(() => ussMiB(pid), 250)
  cleanup.add('uplink USS sampler', () => sampler.stop())
  const throughput = await runThroughput([plain, linked], s.throughput, line => log(`uplink ${line}`))
  const rpc = await runRpc([sdkPath(plain), sdkPath(linked)], s.rpc, line => log(`uplink ${line}`))
  const peakForwarding = sampler.peak()
  sampler.stop()
  const forwardedStats = await stats(linked)
  await linked.broker.stop()

  // ── store-and-forward: every hook stored while the upstream is down ──
  log('uplink: the upstream down, every hook stored')
  await upstream.stop()
  const storedNames = benchNames('-u2')
  const storing = await startCore('outpost storing every hook', path.join(dir, 'uplink-storing'), launch, storedNames, cleanup, {
    uplink: {
      ...uplinkBase,
      fleetId: 'bench-s',
      hooks: [{ filter: `${storedNames.pub}/tick`, qos: 1, store: true }, { filter: 'bench-sensors/reading', qos: 1, store: true }],
      queue: { dir: path.join(dir, 'uplink-queue') },
    },
    extra: [{ name: 'bench-sensors', program: 'modules/sensors.js', memoryMiB: 24, config: s.load }],
  })
  await until('the storing uplink', () => stats(storing).catch(() => undefined), 20_000)
  pid = await uplinkPid(storing)
  sampler = samplePeak(() => ussMiB(pid), 250)
  const stored: number[] = []
  const storedPlain: number[] = []
  let writeSpanMs = 0
  let writeRecords = 0
  for (let round = 1 - s.throughput.warmupRounds; round <= s.throughput.rounds; round++) {
    const before = (await stats(storing)).hooks.stored
    const t0 = performance.now()
    const run = await throughputRound(storing, s.throughput)
    // the queue's own pace: from the round's start to the last records stored (the steady load's 10/s aside)
    let last = { stored: before, at: t0 }
    await until('the queue to catch up', async () => {
      const now = (await stats(storing)).hooks.stored
      const grew = now - last.stored
      last = { stored: now, at: grew > 10 ? performance.now() : last.at }
      return grew > 10 ? undefined : true
    }, 60_000, 300)
    const plainRun = await throughputRound(plain, s.throughput)
    log(`uplink storing round ${round}: ${run.perSec.toFixed(0)} msg/s (without the uplink ${plainRun.perSec.toFixed(0)}), ${last.stored - before} stored`)
    if (round < 1) continue
    stored.push(run.perSec)
    storedPlain.push(plainRun.perSec)
    writeRecords += last.stored - before
    writeSpanMs += last.at - t0
  }
  const full = await stats(storing)

  // ── the upstream is back: the drain ──
  log(`uplink: the upstream back, draining ${full.queue.records} records`)
  upstream = await startUpstream(dir, port, cleanup)
  const receiver = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'bench-receiver', reconnectPeriod: 0 })
  cleanup.add('the drain receiver', () => receiver.end(true))
  let receivedUpstream = 0
  receiver.on('message', () => { receivedUpstream++ })
  await receiver.subscribeAsync('outpost/bench-s/hooks/#', { qos: 0 })
  let backlog = full.queue.records
  const cpu = (): { uplink: number, upstream: number } => ({ uplink: cpuMs(pid), upstream: cpuMs(upstream.pid) })
  let cpuAtConnect = cpu()
  const connectedAt = await until('the uplink back', async () => {
    const now = await stats(storing)
    cpuAtConnect = cpu()
    if (!now.connected) { backlog = now.queue.records; return undefined }
    return performance.now()
  }, 30_000, 10)
  const drainedAt = await until('the drain', async () => ((await stats(storing)).queue.records === 0 ? performance.now() : undefined), 120_000, 20)
  const receivedByDrained = receivedUpstream
  const cpuAtDrained = cpu()
  const cpuUs = (ms: number): number => (ms * 1000) / backlog
  const peakStoring = sampler.peak()
  sampler.stop()

  // ── flash wear: the steady load alone, stored and sent ──
  log(`uplink: ${s.diskWindowMs / 1000} s of the steady load (${s.load.sensors} sensors × 1 hook / ${s.load.everyMs} ms, ${s.load.dataBytes} bytes of data)`)
  await new Promise(resolve => setTimeout(resolve, 2000))
  const d0 = { bytes: writeBytes(pid), stats: await stats(storing), at: performance.now() }
  await new Promise(resolve => setTimeout(resolve, s.diskWindowMs))
  const d1 = { bytes: writeBytes(pid), stats: await stats(storing), at: performance.now() }
  await receiver.endAsync()

  return {
    startedAt,
    endToEnd,
    rpc: { plain: rpc[0] as RpcPathResult, linked: rpc[1] as RpcPathResult },
    throughput: { plain: throughput[0] as ThroughputResult, linked: throughput[1] as ThroughputResult, stored, storedPlain },
    forwarded: { up: forwardedStats.hooks.up, backlogDropped: forwardedStats.hooks.dropped.backlog, offlineDropped: forwardedStats.hooks.dropped.offline },
    queue: { writePerSec: (writeRecords * 1000) / writeSpanMs, records: full.queue.records, bytes: full.queue.bytes, fsyncs: full.queue.fsyncs },
    drain: { records: backlog, ms: drainedAt - connectedAt, perSec: (backlog * 1000) / (drainedAt - connectedAt), receivedUpstream: receivedByDrained, cpuUs: { uplink: cpuUs(cpuAtDrained.uplink - cpuAtConnect.uplink), upstream: cpuUs(cpuAtDrained.upstream - cpuAtConnect.upstream) } },
    ussMiB: { rest, peakForwarding, peakStoring },
    disk: { windowMs: d1.at - d0.at, writeBytes: d1.bytes - d0.bytes, records: d1.stats.queue.lastSeq - d0.stats.queue.lastSeq, fsyncs: d1.stats.queue.fsyncs - d0.stats.queue.fsyncs },
  }
}

export const UPLINK_HEADING = '## Uplink (fleet)'

const us = (n: number): string => `${n.toFixed(0)} µs`
const mib = (n: number): string => `${n.toFixed(1)} MiB`
const row = (cells: string[]): string => `| ${cells.join(' | ')} |`
const cpuRow = (c: CpuPerMessage): string => `${c.gateway.toFixed(1)} / ${c.upstream.toFixed(1)} / ${c.subscriber.toFixed(1)}`

export function renderUplink (r: UplinkResults, s: UplinkSettings): string {
  // the bench leaves the queue's settings at their defaults: the figures are the defaults'
  const queue = uplinkSchema.parse({ url: 'mqtt://upstream' }).queue
  const fsyncPolicy = `every ${queue.fsyncEveryMs} ms or ${queue.fsyncEveryRecords} records`
  const hookRatio = pairedRatio(r.throughput.linked.rounds, r.throughput.plain.rounds)
  const seqRatio = pairedRatio(r.rpc.linked.rounds.sequentialP50Us, r.rpc.plain.rounds.sequentialP50Us)
  const parRatio = pairedRatio(r.rpc.linked.rounds.parallelP50Us, r.rpc.plain.rounds.parallelP50Us)
  const storeRatio = pairedRatio(r.throughput.stored, r.throughput.storedPlain)
  const perHour = (n: number): number => (n * 3_600_000) / r.disk.windowMs
  const e2e = r.endToEnd
  const e2eRatio = pairedRatio(e2e.uplink.map(x => x.perSec), e2e.direct.map(x => x.perSec))
  const targets = [
    ['hooks/s from a module to a subscriber on the upstream: through the gateway and its uplink (QoS 0) vs the same module publishing to the upstream directly', `${median(e2e.uplink.map(x => x.perSec)).toFixed(0)}`, `${median(e2e.direct.map(x => x.perSec)).toFixed(0)}`, `${e2eRatio.toFixed(2)}×`, '≥ 0.8×', e2eRatio >= 0.8],
    ['hook messages/s from a module to a subscriber on the gateway, the uplink forwarding them too (QoS 0), vs the same gateway without it', `${r.throughput.linked.run.perSec.toFixed(0)}`, `${r.throughput.plain.run.perSec.toFixed(0)}`, `${hookRatio.toFixed(2)}×`, '—', undefined],
    ['sequential RPC p50, module → module, with the uplink vs without', us(r.rpc.linked.sequential.p50Us), us(r.rpc.plain.sequential.p50Us), `${seqRatio.toFixed(2)}×`, '≤ 1.1×', seqRatio <= 1.1],
    [`${s.rpc.parallel.inflight} in flight RPC p50, with the uplink vs without`, us(r.rpc.linked.parallel.p50Us), us(r.rpc.plain.parallel.p50Us), `${parRatio.toFixed(2)}×`, '≤ 1.1×', parRatio <= 1.1],
    ['stored hooks drained after the outage (acknowledged by the upstream, QoS 1)', `${r.drain.perSec.toFixed(0)}/s`, '—', '—', '≥ 10000/s', r.drain.perSec >= 10_000],
  ] as const
  return [
    UPLINK_HEADING,
    '',
    `Run on ${r.startedAt.toISOString()} (node ${process.version}).`,
    'The upstream: a local Mosquitto (anonymous, loopback TCP, no TLS). First a module\'s hooks to a subscriber on it, through a gateway and its uplink against the module publishing to it directly; then a gateway with the uplink module against the same gateway without an uplink section, both running at once. Rounds alternate between the two of each pair.',
    '',
    '| target | measured | baseline (same run) | ratio | goal | result |',
    '|---|---|---|---|---|---|',
    ...targets.map(t => row([t[0], t[1], t[2], t[3], t[4], t[5] === undefined ? '—' : t[5] ? 'PASS' : '**MISS**'])),
    '',
    `- End to end (bench/uplink-e2e.ts): the benchmark's publisher module emits \`tick\` hooks of ${e2e.direct[0]?.messageBytes ?? Number.NaN} bytes, paced by a subscriber on the upstream (bench/raw/upstream-counter.ts, the SDK's MQTT client) that reports its count every ${PROGRESS_EVERY} messages where the publisher is, on a connection of its own, which keeps at most ${s.throughput.window} messages ahead of it; ${s.throughput.rounds} rounds of ${s.throughput.count} after ${s.throughput.warmupRounds} warm-up, alternating, against a Mosquitto of its own (the upstream's settings). Directly, the same program connects to the upstream as to the core (the SDK over TCP) and the hooks take one hop; through the uplink they take three (publisher → core → uplink → upstream). Through the uplink ${e2e.forwarded.up} went up, ${e2e.forwarded.backlogDropped} dropped at the backlog bound. CPU per message (µs), gateway / upstream broker / upstream subscriber: directly ${cpuRow(e2e.cpuUs.direct)} (the gateway here is the publisher alone), through the uplink ${cpuRow(e2e.cpuUs.uplink)} (the core, the publisher and the uplink). Both sides share this machine's 2 cores: what the upstream's broker and subscriber spend here runs on the operator's machines in the field.`,
    '- The subscriber\'s count reports took the subscription\'s own connection on the direct path until 2026-12-06 (they go where the publisher is, and there that was the upstream): Mosquitto\'s writes to that subscriber then coalesced into reads of ≈ 28 KiB (≈ 300 hooks; strace of the subscriber), its CPU per hook was 0.5 µs against 4.7 µs through the uplink, and the run of that day measured 0.69× (88869 against 132811 hooks/s). The same run with the reports on a connection of their own on both paths: 0.88×, the direct subscriber at 6.6 µs per hook. The benchmark now does that.',
    `- Forwarding: the uplink subscribes to the publisher's hooks like a second subscriber and sends them up at QoS 0; its counters after the ${r.throughput.linked.rounds.length + s.throughput.warmupRounds} rounds: ${r.forwarded.up} sent up (hooks.up), ${r.forwarded.backlogDropped} dropped while more than 4 MiB waited unsent (hooks.dropped.backlog), ${r.forwarded.offlineDropped} dropped as offline.`,
    `- The queue's write cost: with every hook stored (QoS 1, \`store: true\`, the default fsync policy: ${fsyncPolicy}) while the upstream is down, the gateway's hook throughput is ${storeRatio.toFixed(2)}× that of the gateway without the uplink (median of paired rounds, ${r.throughput.stored.map(n => n.toFixed(0)).join(', ')} msg/s). The queue stored ≈ ${r.queue.writePerSec.toFixed(0)} records/s (from each round's start to its last records stored, read every 300 ms: a lower bound). After the rounds it held ${r.queue.records} records in ${mib(r.queue.bytes / 1048576)}, after ${r.queue.fsyncs} fsyncs.`,
    `- Drain: ${r.drain.records} records in ${r.drain.ms.toFixed(0)} ms from the reconnect to the last acknowledgement, the default window of ${queue.window} unacknowledged; the records were written with the default fsync policy (${fsyncPolicy}); the drain itself reads and does not fsync, and writes the acknowledged position (no fsync) at most every 5 s. A subscriber on the upstream (QoS 0, subscribed as the upstream came back) had received ${r.drain.receivedUpstream} hooks by then, the steady load's included. CPU per drained record: ${r.drain.cpuUs.uplink.toFixed(1)} µs in the uplink process, ${r.drain.cpuUs.upstream.toFixed(1)} µs in Mosquitto (which also sends each on to that subscriber); on this 2-core machine the three processes share the CPUs, so the rate follows the machine's load.`,
    '- What issue 11 changed in the drain: the uplink writes stored hooks\' QoS 1 PUBLISH packets itself, all of one turn of the event loop in one write, under message ids shared with mqtt.js, and keeps nothing in memory for a resend (the queue on disk is the resend store); before, each went through mqtt.js\'s publish, which clones the packet into its own store and makes a dozen objects per message. Its `seq`/`q` entries are spliced in without encoding them per record, and records are handed out without a copy. The same bench, run back to back with each build on 2026-12-05: through mqtt.js 19695/s at 37.6 µs of uplink CPU per record on a quiet machine (8284/s and 14675/s at 44.4 and 43.1 µs while other jobs ran), written directly 24069/s at 22.8 µs (13897/s and 13219/s at 24.1 and 22.1 µs while other jobs ran). The 6796/s of 2026-12-04 was the mqtt.js path on a busy machine. Mosquitto\'s own ≈ 33–37 µs per record (it also sends each on to the subscriber) is now the larger share. The window does not bound the drain here: 256 instead of 64 drained no faster on loopback.',
    `- The uplink process's USS: ${mib(r.ussMiB.rest)} at rest (connected, ${s.settleMs / 1000} s after start), peak ${mib(r.ussMiB.peakForwarding)} forwarding the throughput rounds, peak ${mib(r.ussMiB.peakStoring)} storing them and draining.`,
    `- Flash wear: ${s.load.sensors} sensors × one stored hook every ${s.load.everyMs} ms with ${s.load.dataBytes} bytes of data, the upstream connected, default fsync policy: over ${(r.disk.windowMs / 1000).toFixed(0)} s the uplink process made the kernel write ${r.disk.writeBytes} bytes to disk (\`write_bytes\` of /proc/<pid>/io: every page dirtied again after an fsync counts whole) for ${r.disk.records} records and ${r.disk.fsyncs} fsyncs: **${(perHour(r.disk.writeBytes) / 1e6).toFixed(1)} MB/hour**, ${perHour(r.disk.records).toFixed(0)} records/hour. The file system's own journal writes come on top.`,
    '',
  ].join('\n')
}

/** the section as `npm run bench` writes it (one line in run.ts) */
export async function uplinkSection (dir: string, cleanup: Cleanup, log: (line: string) => void): Promise<string> {
  const own = path.join(dir, 'uplink')
  mkdirSync(own, { recursive: true })
  cleanup.add(`remove ${own}`, () => rmSync(own, { recursive: true, force: true }))
  const results = await runUplink(own, UPLINK, cleanup, log)
  await cleanup.run()
  return renderUplink(results, UPLINK)
}
