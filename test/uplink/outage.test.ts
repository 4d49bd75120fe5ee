// Store-and-forward through an outage, with real processes: the upstream (mosquitto) stops under hook load;
// during the outage the uplink is killed with SIGKILL, then the core is, and the queue's newest segment loses
// the end of its last record (a power cut mid-write). When everything is back, every stored hook arrives,
// once after deduplication by (q, seq), in order; the only numbers missing are the ones the queue skips on
// purpose after each unclean stop.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import mqtt from 'mqtt'
import os from 'node:os'
import path from 'node:path'
import { decodeCbor } from '../../core/protocol/codec.js'
import { connectOperator, fixture, gone, waitFor } from '../helpers/gateway.js'
import { poll } from '../helpers/wait.js'
import type { Operator } from '../helpers/gateway.js'
import { startUpstream } from '../helpers/upstream.js'
import { CLI } from '../management/helpers.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-outage-'))
const queueDir = path.join(dir, 'queue')
const FSYNC_EVERY_RECORDS = 50
after(() => rmSync(dir, { recursive: true, force: true }))

function startCore (file: string): { core: ChildProcess, out: () => string } {
  const core = spawn(process.execPath, [CLI, 'run', file], { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } })
  let out = ''
  core.stdout?.on('data', chunk => { out += chunk })
  core.stderr?.on('data', chunk => { out += chunk })
  return { core, out: () => out }
}

async function localOperator (out: () => string, skip: number): Promise<Operator> {
  const url = await waitFor('the core to listen', () => /broker listening: .*, (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out().slice(skip))?.[1], 30_000)
    .catch(err => { throw new Error(`${(err as Error).message}; the core said: ${out()}`) })
  return connectOperator(url)
}

const uplinkStats = async (op: Operator): Promise<any> => {
  const reply = await op.call('uplink', 'stats', null, 5000).catch(() => undefined)
  return reply?.result
}
const pidOf = async (op: Operator, module: string): Promise<number> => {
  const list = (await op.call('core', 'list')).result as Array<{ module: string, instances: Array<{ pid: number | null, state: string }> }>
  return list.find(m => m.module === module)?.instances[0]?.pid ?? 0
}

test('issue 11: stored hooks survive an upstream outage, kill -9 of the uplink and of the core, and a cut tail', async () => {
  const users = { 'gw-o': 'gateway-o-secret', alice: 'alice-secret' }
  const upstream = await startUpstream(users)
  const file = path.join(dir, 'gateway.json')
  writeFileSync(file, JSON.stringify({
    gateway: 'gw-o',
    board: 'sim',
    runtimeDir: path.join(dir, 'run'),
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules: [{ name: 'ticker', entry: fixture('ticker'), config: { everyMs: 4 } }],
    uplink: {
      url: upstream.url, username: 'gw-o', password: users['gw-o'], ca: upstream.ca, keepaliveSeconds: 5,
      backoff: { initialMs: 100, maxMs: 1000 },
      hooks: [{ filter: 'ticker/tick', qos: 1, store: true }],
      queue: { dir: queueDir, segmentBytes: 16_384, maxBytes: 4_194_304, fsyncEveryRecords: FSYNC_EVERY_RECORDS },
    },
  }))

  // the receiver keeps its session (clean: false) on an upstream that saves sessions when stopped
  const received: Array<{ q: string, seq: number, n: number, pid: number, raw: string }> = []
  const sub = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'receiver', clean: false, username: 'alice', password: users.alice, ca: readFileSync(upstream.ca), reconnectPeriod: 200 })
  sub.on('message', (topic, payload) => {
    if (topic !== 'outpost/gw-o/hooks/ticker/tick') return
    const m = decodeCbor(payload) as { q: string, seq: number, data: { n: number, pid: number } }
    received.push({ q: m.q, seq: m.seq, n: m.data.n, pid: m.data.pid, raw: payload.toString('hex') })
  })
  await sub.subscribeAsync('outpost/gw-o/hooks/ticker/tick', { qos: 1 })

  let first = startCore(file)
  let second: ReturnType<typeof startCore> | undefined
  let op = await localOperator(first.out, 0)
  try {
    await waitFor('hooks flowing upstream', () => received.length >= 100, 30_000)
      .catch(async err => { throw new Error(`${(err as Error).message}: ${JSON.stringify(await uplinkStats(op))}; ${first.out()}`) })

    // ── the outage ──
    await upstream.stop('SIGTERM')
    let s = await waitForStats(op, q => q.records >= 300)
    const uplinkPid = await pidOf(op, 'uplink')
    process.kill(uplinkPid, 'SIGKILL')
    await waitFor('the uplink gone', () => gone(uplinkPid))
    s = await waitForStats(op, q => q.lastSeq > s.queue.lastSeq + FSYNC_EVERY_RECORDS + 200)
    assert.ok(s.connected === false)

    // ── the core dies with SIGKILL; its modules leave when their broker goes ──
    const pids = [await pidOf(op, 'uplink'), await pidOf(op, 'ticker')]
    await op.end().catch(() => {})
    first.core.kill('SIGKILL')
    await waitFor('the core and its modules gone', () => gone(first.core.pid as number) && pids.every(gone), 20_000)

    // ── a power cut in the middle of writing the last record ──
    const segments = readdirSync(queueDir).filter(n => n.endsWith('.seg')).sort()
    const newest = path.join(queueDir, segments.at(-1) as string)
    assert.ok(statSync(newest).size > 100)
    truncateSync(newest, statSync(newest).size - 5)

    second = startCore(file)
    op = await localOperator(second.out, 0)
    s = await waitForStats(op, q => q.cutBytes > 0 && q.records > 0)
    assert.ok(s.queue.cutBytes > 0, 'the damaged tail was cut')

    // ── the upstream returns: stop the ticker so the total is fixed, then wait for the drain ──
    await upstream.start()
    await op.call('core', 'stop', { module: 'ticker' })
    const final = await waitForStats(op, q => q.records === 0, 60_000)
    const lastSeq = final.queue.lastSeq
    await waitFor('the last stored hook upstream', () => received.some(r => r.seq === lastSeq), 60_000)

    // ── what arrived ──
    const firstCopy = new Map<number, string>()
    const order: number[] = []
    for (const r of received) {
      assert.equal(r.q, received[0]?.q, 'one queue')
      const seen = firstCopy.get(r.seq)
      if (seen === undefined) {
        firstCopy.set(r.seq, r.raw)
        order.push(r.seq)
      } else assert.equal(r.raw, seen, `seq ${r.seq} arrived twice with different content`)
    }
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'in order, after deduplication')
    // two unclean stops (the uplink's, the core's), each skipping FSYNC_EVERY_RECORDS numbers: nothing else is missing
    assert.equal(order.length, lastSeq - 2 * FSYNC_EVERY_RECORDS, `every stored hook arrived (${received.length - order.length} duplicates dropped)`)
    const gaps = order.slice(1).map((seq, i) => seq - (order[i] as number)).filter(d => d !== 1)
    assert.deepEqual(gaps, [FSYNC_EVERY_RECORDS + 1, FSYNC_EVERY_RECORDS + 1])
    // within each ticker process, its hooks in the order it emitted them
    const byPid = new Map<number, number[]>()
    for (const seq of order) {
      const r = received.find(x => x.seq === seq) as { n: number, pid: number }
      byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r.n])
    }
    for (const ns of byPid.values()) assert.deepEqual(ns, [...ns].sort((a, b) => a - b))
  } finally {
    await op.end().catch(() => {})
    await sub.endAsync().catch(() => {})
    for (const c of [first.core, second?.core]) {
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) continue
      const exited = new Promise(resolve => c.once('exit', resolve))
      c.kill('SIGTERM')
      await exited
    }
    await upstream.close()
  }

  async function waitForStats (o: Operator, check: (q: any) => boolean, timeoutMs = 30_000): Promise<any> {
    const started = Date.now()
    for (;;) {
      const stats = await uplinkStats(o)
      if (stats !== undefined && check(stats.queue)) return stats
      if (Date.now() - started > timeoutMs) throw new Error(`uplink stats never matched: ${JSON.stringify(stats)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
})

test('issue 11: a long outage fills the queue to its bound; the oldest are dropped, counted in stats and the status; the folder never passes the bound; what was kept arrives in order', async () => {
  const users = { 'gw-f': 'gateway-f-secret', alice: 'alice-secret' }
  const upstream = await startUpstream(users)
  const fullDir = path.join(dir, 'full')
  const fullQueue = path.join(fullDir, 'queue')
  const MAX_BYTES = 262_144 // the smallest bound the schema allows: 16 segments of 16 KiB
  const file = path.join(fullDir, 'gateway.json')
  mkdirSync(fullDir)
  writeFileSync(file, JSON.stringify({
    gateway: 'gw-f',
    board: 'sim',
    runtimeDir: path.join(fullDir, 'run'),
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules: [{ name: 'alpha', entry: fixture('echo') }],
    uplink: {
      url: upstream.url, username: 'gw-f', password: users['gw-f'], ca: upstream.ca, keepaliveSeconds: 5,
      backoff: { initialMs: 100, maxMs: 1000 },
      hooks: [{ filter: 'alpha/ping', qos: 1, store: true }],
      queue: { dir: fullQueue, segmentBytes: 16_384, maxBytes: MAX_BYTES },
    },
  }))
  const received: Array<{ q: string, seq: number, i: number }> = []
  const statuses: any[] = []
  const sub = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'full-receiver', clean: false, username: 'alice', password: users.alice, ca: readFileSync(upstream.ca), reconnectPeriod: 200 })
  sub.on('message', (topic, payload) => {
    if (topic === 'outpost/gw-f/status') statuses.push(decodeCbor(payload))
    if (topic !== 'outpost/gw-f/hooks/alpha/ping') return
    const m = decodeCbor(payload) as { q: string, seq: number, data: Uint8Array }
    received.push({ q: m.q, seq: m.seq, i: Buffer.from(m.data).readUInt32BE(0) })
  })
  await sub.subscribeAsync(['outpost/gw-f/hooks/alpha/ping', 'outpost/gw-f/status'], { qos: 1 })

  const { core, out } = startCore(file)
  const op = await localOperator(out, 0)
  let sampler: NodeJS.Timeout | undefined
  try {
    await poll(async () => (await uplinkStats(op))?.connected === true || undefined, 300)

    // ── the outage, before any load: nothing is in flight, so every record stored from here on is unsent ──
    await upstream.stop('SIGTERM')
    await poll(async () => (await uplinkStats(op))?.connected === false || undefined, 300)
    const start = (await uplinkStats(op)).queue
    let peak = { segments: 0, folder: 0 }
    const sample = (): void => {
      let segments = 0
      let folder = 0
      for (const name of readdirSync(fullQueue)) {
        let size = 0
        try { size = statSync(path.join(fullQueue, name)).size } catch { continue } // deleted between the two calls
        folder += size
        if (name.endsWith('.seg')) segments += size
      }
      peak = { segments: Math.max(peak.segments, segments), folder: Math.max(peak.folder, folder) }
    }
    sampler = setInterval(sample, 5)
    // hook load: bursts of 400 hooks of 200 bytes, ≈ 4 times the bound in all
    const BURST = 400
    const BURSTS = 12
    for (let b = 0; b < BURSTS; b++) {
      const reply = await op.call('alpha', 'burst', { hook: 'ping', count: BURST, bytes: 200 }, 15_000)
      assert.equal(reply.result, BURST, JSON.stringify(reply))
      sample()
    }
    const full = await poll(async () => {
      const q = (await uplinkStats(op))?.queue
      return q?.lastSeq === start.lastSeq + BURST * BURSTS ? q : undefined
    }, 300).catch(async err => { throw new Error(`${(err as Error).message}: ${JSON.stringify(await uplinkStats(op))} from ${JSON.stringify(start)}`) })
    clearInterval(sampler)
    sample()
    assert.ok(full.dropped.full > 0, 'the bound was reached')
    assert.equal(full.records + full.dropped.full, BURST * BURSTS, 'every record is kept or counted as dropped')
    assert.ok(full.bytes <= MAX_BYTES)
    assert.ok(peak.segments > MAX_BYTES - 16_384, `the samples saw the queue full (${peak.segments} bytes)`)
    assert.ok(peak.segments <= MAX_BYTES, `segments on disk peaked at ${peak.segments} bytes, over the bound ${MAX_BYTES}`)
    // besides the segments, the folder holds only `id` (17 bytes), `acked` (12) and the empty marker `open`
    assert.ok(peak.folder <= MAX_BYTES + 29, `the folder peaked at ${peak.folder} bytes`)
    assert.match(out(), /queue full \(262144 bytes\): dropped \d+ oldest record\(s\)/)

    // ── the upstream returns: what was kept arrives, in order, once after deduplication ──
    await upstream.start()
    const drained = await poll(async () => {
      const q = (await uplinkStats(op))?.queue
      return q?.records === 0 ? q : undefined
    }, 600)
    assert.equal(drained.dropped.full, full.dropped.full)
    await waitFor('the last stored hook upstream', () => received.some(r => r.seq === full.lastSeq), 60_000)
    const firstKept = full.lastSeq - full.records + 1
    const seen = new Set<number>()
    const order: Array<{ seq: number, i: number }> = []
    for (const r of received) {
      assert.equal(r.q, start.id)
      if (seen.has(r.seq)) continue
      seen.add(r.seq)
      order.push(r)
    }
    assert.deepEqual(order.map(r => r.seq), Array.from({ length: full.records }, (_, k) => firstKept + k), 'exactly the kept records, in order: the oldest were dropped')
    // each record is the hook it was stored from: the burst's own counter follows the sequence number
    for (const r of order) assert.equal(r.i, (r.seq - start.lastSeq - 1) % BURST, `seq ${r.seq}`)
    // the first one with the drops is the one sent at the reconnect; a later one (a module's state changed
    // during the outage, debounced by 1 s) may come after the drain and carry fewer records
    const status = await waitFor('the status with the drops', () => statuses.find(s => s.state === 'online' && s.queue?.dropped?.full === full.dropped.full), 30_000)
    assert.equal(status.queue.records, full.records, 'sent at reconnect, before the drain')
  } finally {
    clearInterval(sampler)
    await op.end().catch(() => {})
    await sub.endAsync().catch(() => {})
    if (core.exitCode === null && core.signalCode === null) {
      const exited = new Promise(resolve => core.once('exit', resolve))
      core.kill('SIGTERM')
      await exited
    }
    await upstream.close()
  }
})
