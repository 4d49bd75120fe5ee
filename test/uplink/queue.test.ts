// The store-and-forward queue on real files: order, acknowledgement, reopening, a power cut (a record cut
// short, a record with bad bytes), the byte and age bounds with drop-oldest counted, and numbering that never
// gives one number to two records.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openQueue } from '../../modules/uplink/queue.js'
import type { Queue, QueueOptions, QueuedRecord } from '../../modules/uplink/queue.js'

function setup (overrides: Partial<QueueOptions> = {}): { dir: string, open: (more?: Partial<QueueOptions>) => Queue, warnings: string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-queue-'))
  const warnings: string[] = []
  const base: QueueOptions = { dir, maxBytes: 1 << 20, maxAgeMs: 3_600_000, segmentBytes: 16_384, fsyncEveryMs: 1000, fsyncEveryRecords: 100, warn: w => warnings.push(w), ...overrides }
  return { dir, warnings, open: more => openQueue({ ...base, ...more }) }
}

function drain (q: Queue): QueuedRecord[] {
  const out: QueuedRecord[] = []
  for (let r = q.next(); r !== undefined; r = q.next()) out.push(r)
  return out
}

const body = (i: number, size = 40): Buffer => {
  const b = Buffer.alloc(size, i & 0xff)
  b.writeUInt32BE(i, 0)
  return b
}

function segmentBytes (dir: string): number {
  return readdirSync(dir).filter(n => n.endsWith('.seg')).reduce((sum, n) => sum + statSync(path.join(dir, n)).size, 0)
}

test('records come back in order across segments, and acknowledged ones are not handed out again', () => {
  const { dir, open } = setup()
  try {
    const q = open()
    for (let i = 0; i < 1000; i++) assert.equal(q.append(`hooks/a/t${i % 3}`, body(i)), i + 1)
    assert.ok(readdirSync(dir).filter(n => n.endsWith('.seg')).length > 3, 'more than one segment')
    const all = drain(q)
    assert.deepEqual(all.map(r => r.seq), Array.from({ length: 1000 }, (_, i) => i + 1))
    assert.deepEqual(all[7]?.body, body(7))
    assert.equal(all[7]?.topic, 'hooks/a/t1')
    q.ack(600)
    q.rewind()
    assert.equal(q.next()?.seq, 601)
    assert.equal(q.stats().records, 400)
    q.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('reopened after a clean stop: the unacknowledged records, and numbering goes on', () => {
  const { dir, open } = setup()
  try {
    const q = open()
    for (let i = 0; i < 50; i++) q.append('hooks/a/t', body(i))
    drain(q)
    q.ack(20)
    q.close()
    const again = open()
    assert.deepEqual(drain(again).map(r => r.seq), Array.from({ length: 30 }, (_, i) => i + 21))
    assert.equal(again.append('hooks/a/t', body(99)), 51)
    again.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a power cut mid-record: the damaged tail is cut, never fatal; numbering skips past what may have been sent', () => {
  const { dir, open, warnings } = setup()
  try {
    const q = open()
    for (let i = 0; i < 10; i++) q.append('hooks/a/t', body(i))
    drain(q) // writes them out
    // no close(): the process died. The newest segment loses the last 5 bytes, inside record 10.
    const [segment] = readdirSync(dir).filter(n => n.endsWith('.seg'))
    const file = path.join(dir, segment as string)
    truncateSync(file, statSync(file).size - 5)
    const again = open()
    const records = drain(again)
    assert.deepEqual(records.map(r => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.equal(again.stats().cutBytes > 0, true)
    assert.ok(warnings.some(w => /cut \d+ damaged byte\(s\) after record 9/.test(w)), warnings.join('\n'))
    assert.ok(warnings.some(w => /did not stop cleanly; numbering goes on at 110/.test(w)), warnings.join('\n'))
    // 10 may have reached the upstream before the cut: a new record never reuses a number up to 9 + fsyncEveryRecords
    assert.equal(again.append('hooks/a/t', body(10)), 110)
    assert.deepEqual(drain(again).map(r => r.seq), [110])
    again.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a record with damaged bytes ends its segment there', () => {
  const { dir, open, warnings } = setup()
  try {
    const q = open()
    for (let i = 0; i < 10; i++) q.append('hooks/a/t', body(i))
    q.close()
    const [segment] = readdirSync(dir).filter(n => n.endsWith('.seg'))
    const file = path.join(dir, segment as string)
    const bytes = readFileSync(file)
    const recordSize = bytes.length / 10
    const at = recordSize * 6 + 30 // inside record 7's body
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at)
    writeFileSync(file, bytes)
    const again = open()
    assert.deepEqual(drain(again).map(r => r.seq), [1, 2, 3, 4, 5, 6])
    assert.equal(again.stats().cutBytes, recordSize * 4)
    assert.ok(warnings.some(w => /after record 6/.test(w)))
    again.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('at its byte bound the queue drops the oldest records, counts them, and disk use never passes the bound', () => {
  const maxBytes = 4 * 16_384
  const { dir, open, warnings } = setup({ maxBytes })
  try {
    const q = open()
    let peak = 0
    for (let i = 0; i < 5000; i++) {
      q.append('hooks/a/t', body(i, 100))
      if (i % 50 === 0) {
        drain(q) // flush the writes, then measure the files
        q.rewind()
        peak = Math.max(peak, segmentBytes(dir))
      }
    }
    drain(q)
    q.rewind()
    peak = Math.max(peak, segmentBytes(dir))
    const stats = q.stats()
    assert.ok(peak <= maxBytes, `disk ${peak} > bound ${maxBytes}`)
    assert.ok(stats.bytes <= maxBytes)
    assert.ok(stats.dropped.full > 0)
    // every record is either still stored or counted as dropped
    assert.equal(stats.records + stats.dropped.full, 5000)
    const left = drain(q)
    assert.equal(left.at(-1)?.seq, 5000)
    assert.equal(left[0]?.seq, 5000 - left.length + 1, 'the newest are kept, in order')
    assert.ok(warnings.some(w => /queue full \(65536 bytes\): dropped \d+ oldest record/.test(w)))
    q.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('records older than maxAgeMs are dropped and counted, not sent', () => {
  let clock = 1_000_000
  const { dir, open } = setup({ maxAgeMs: 10_000, now: () => clock })
  try {
    const q = open()
    for (let i = 0; i < 300; i++) q.append('hooks/a/t', body(i, 100)) // several segments, all at t0
    clock += 5_000
    for (let i = 300; i < 310; i++) q.append('hooks/a/t', body(i, 100))
    clock += 6_000 // the first 300 are now 11 s old
    const left = drain(q)
    assert.deepEqual(left.map(r => r.seq), Array.from({ length: 10 }, (_, i) => 301 + i))
    assert.equal(q.stats().dropped.age, 300)
    q.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a record larger than a segment is refused and counted', () => {
  const { dir, open } = setup()
  try {
    const q = open()
    assert.equal(q.append('hooks/a/t', Buffer.alloc(20_000)), undefined)
    assert.equal(q.stats().dropped.tooLarge, 1)
    assert.equal(q.append('hooks/a/t', body(1)), 1)
    q.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
