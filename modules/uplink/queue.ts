// Store-and-forward: an append-only queue on disk for hooks marked `store` (docs/fleet.md, "The queue").
// Segments `<first seq, 16 hex digits>.seg`; each record is
//   u32 length of the body | u32 CRC-32 of everything after it | u64 seq | u64 ts (ms) | u16 topic length | topic | body
// (little-endian; `length` counts topic length field, topic and body). Writes are sequential appends, issued
// once per tick; fsync runs every `fsyncEveryMs` or every `fsyncEveryRecords` records, whichever comes first.
// At start every segment is read through: a record whose length runs past the end of the file or whose CRC
// does not match ends that segment, and the file is cut there (a power cut mid-write), never fatal. The newest
// segment is never deleted, so the next sequence number survives even an emptied queue; after an unclean stop
// numbering skips ahead (see below), so a number is never given to two different records.
import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { crc32 } from 'node:zlib'

const HEADER = 24
const TWO_32 = 2 ** 32
/** the acknowledged position is written at most this often (and at a clean stop): a crash replays at most
 * this much more, which receivers drop by sequence number */
export const CURSOR_EVERY_MS = 5000

export interface QueueOptions {
  dir: string
  maxBytes: number
  maxAgeMs: number
  segmentBytes: number
  fsyncEveryMs: number
  fsyncEveryRecords: number
  warn: (text: string) => void
  now?: () => number
}

export interface QueuedRecord { seq: number, ts: number, topic: string, body: Buffer }

export interface QueueStats {
  /** identifies this queue's sequence numbers: made once, when the folder is first used */
  id: string
  /** stored and not yet acknowledged by the upstream */
  records: number
  /** on disk, every segment together (never more than maxBytes) */
  bytes: number
  lastSeq: number
  acked: number
  dropped: { full: number, age: number, tooLarge: number }
  /** bytes cut from damaged segment tails at start */
  cutBytes: number
  fsyncs: number
}

export interface Queue {
  /** stores a record; its sequence number, or undefined if it is larger than a segment (counted) */
  append (topic: string, body: Buffer): number | undefined
  /** the next record to send, in order; undefined when every stored record has been handed out. Its body is a
   * view of the bytes read from disk, which nothing writes over. */
  next (): QueuedRecord | undefined
  /** hand out again from the first record not acknowledged (after a reconnect) */
  rewind (): void
  /** every record up to `seq` reached the upstream */
  ack (seq: number): void
  stats (): QueueStats
  close (): void
}

interface Segment { first: number, last: number, bytes: number, newestTs: number, file: string }

const segmentName = (first: number): string => `${first.toString(16).padStart(16, '0')}.seg`

function writeU64 (buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_32, at)
  buf.writeUInt32LE(Math.floor(value / TWO_32), at + 4)
}
const readU64 = (buf: Buffer, at: number): number => buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32

function encodeRecord (seq: number, ts: number, topic: string, body: Buffer): Buffer {
  const topicBytes = Buffer.byteLength(topic)
  const length = 2 + topicBytes + body.length
  const record = Buffer.allocUnsafe(HEADER + length)
  record.writeUInt32LE(length, 0)
  writeU64(record, seq, 8)
  writeU64(record, ts, 16)
  record.writeUInt16LE(topicBytes, HEADER)
  record.write(topic, HEADER + 2, 'utf8')
  body.copy(record, HEADER + 2 + topicBytes)
  record.writeUInt32LE(crc32(record.subarray(8)), 4)
  return record
}

/** the record at `at` in `buf`, or why it is not a whole, sound one */
function decodeRecord (buf: Buffer, at: number): { record: QueuedRecord, size: number } | 'short' | 'corrupt' {
  if (buf.length - at < HEADER) return 'short'
  const length = buf.readUInt32LE(at)
  if (length < 2) return 'corrupt'
  if (buf.length - at < HEADER + length) return 'short'
  if (crc32(buf.subarray(at + 8, at + HEADER + length)) !== buf.readUInt32LE(at + 4)) return 'corrupt'
  const topicBytes = buf.readUInt16LE(at + HEADER)
  if (2 + topicBytes > length) return 'corrupt'
  const topicAt = at + HEADER + 2
  return {
    record: { seq: readU64(buf, at + 8), ts: readU64(buf, at + 16), topic: buf.toString('utf8', topicAt, topicAt + topicBytes), body: buf.subarray(topicAt + topicBytes, at + HEADER + length) },
    size: HEADER + length,
  }
}

export function openQueue (options: QueueOptions): Queue {
  const { dir, maxBytes, maxAgeMs, segmentBytes, warn } = options
  const now = options.now ?? Date.now
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const idFile = path.join(dir, 'id')
  let id = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : ''
  if (!/^[0-9a-f]{16}$/.test(id)) {
    id = randomBytes(8).toString('hex')
    writeFileSync(idFile, `${id}\n`, { mode: 0o600, flush: true })
  }
  const cursorFile = path.join(dir, 'acked')
  const dropped = { full: 0, age: 0, tooLarge: 0 }
  let cutBytes = 0
  let fsyncs = 0

  // ── recovery: read every segment through, cut a damaged tail ──
  const segments: Segment[] = []
  const names = readdirSync(dir).filter(n => /^[0-9a-f]{16}\.seg$/.test(n)).sort()
  for (const name of names) {
    const file = path.join(dir, name)
    const first = Number.parseInt(name.slice(0, 16), 16)
    const buf = readFileSync(file)
    const segment: Segment = { first, last: first - 1, bytes: 0, newestTs: 0, file }
    let at = 0
    while (at < buf.length) {
      const decoded = decodeRecord(buf, at)
      if (typeof decoded === 'string' || decoded.record.seq !== segment.last + 1) break
      segment.last = decoded.record.seq
      segment.newestTs = Math.max(segment.newestTs, decoded.record.ts)
      at += decoded.size
    }
    if (at < buf.length) {
      const fd = openSync(file, 'r+')
      ftruncateSync(fd, at)
      fsyncSync(fd)
      closeSync(fd)
      cutBytes += buf.length - at
      warn(`queue segment ${name}: cut ${buf.length - at} damaged byte(s) after record ${segment.last} (an interrupted write)`)
    }
    segment.bytes = at
    const previous = segments.at(-1)
    if (previous !== undefined && segment.first <= previous.last) {
      warn(`queue segment ${name} overlaps the one before it: removed`)
      unlinkSync(file)
      continue
    }
    segments.push(segment)
  }
  // only the newest segment may be empty: it carries the next sequence number in its name
  for (let i = segments.length - 2; i >= 0; i--) {
    const segment = segments[i] as Segment
    if (segment.last < segment.first) {
      unlinkSync(segment.file)
      segments.splice(i, 1)
    }
  }
  let acked = 0
  try {
    const cursor = readFileSync(cursorFile)
    if (cursor.length === 12 && crc32(cursor.subarray(0, 8)) === cursor.readUInt32LE(8)) acked = readU64(cursor, 0)
    else warn('queue: the acknowledged position is damaged; replaying every stored record (receivers drop duplicates by seq)')
  } catch {}
  const firstStored = segments[0]?.first ?? acked + 1
  acked = Math.max(acked, firstStored - 1)
  if (segments.length === 0) segments.push({ first: acked + 1, last: acked, bytes: 0, newestTs: 0, file: path.join(dir, segmentName(acked + 1)) })
  let active = segments.at(-1) as Segment
  acked = Math.min(acked, active.last)
  // After an unclean stop, records not yet synced may be gone although they were sent (and seen upstream):
  // new records must not reuse their numbers, so numbering skips as many as can have been unsynced.
  const dirtyFile = path.join(dir, 'open')
  const unclean = existsSync(dirtyFile)
  writeFileSync(dirtyFile, '', { mode: 0o600 })
  if (unclean) {
    const next = active.last + 1 + options.fsyncEveryRecords
    if (active.last < active.first) {
      unlinkSync(active.file)
      segments.pop()
    }
    active = { first: next, last: next - 1, bytes: 0, newestTs: 0, file: path.join(dir, segmentName(next)) }
    segments.push(active)
    warn(`queue: the last run did not stop cleanly; numbering goes on at ${next} (up to ${options.fsyncEveryRecords} unsynced record(s) may be lost)`)
  }
  let fd = openSync(active.file, 'a', 0o600)
  let totalBytes = segments.reduce((sum, s) => sum + s.bytes, 0)

  // ── writing ──
  let pending: Buffer[] = []
  let writeScheduled = false
  let unsynced = 0
  let syncTimer: NodeJS.Timeout | undefined
  let ackedWritten = acked
  let cursorTimer: NodeJS.Timeout | undefined
  let closed = false

  const writePending = (): void => {
    writeScheduled = false
    if (pending.length === 0) return
    const batch = pending.length === 1 ? pending[0] as Buffer : Buffer.concat(pending)
    pending = []
    let at = 0
    while (at < batch.length) at += writeSync(fd, batch, at)
  }
  const sync = (): void => {
    if (syncTimer !== undefined) clearTimeout(syncTimer)
    syncTimer = undefined
    writePending()
    if (unsynced === 0) return
    unsynced = 0
    fsyncs++
    fsync(fd, () => {}) // an error here (the fd closed by a rotation, which synced it itself) loses nothing
  }
  const writeCursor = (): void => {
    cursorTimer = undefined
    if (ackedWritten === acked) return
    const cursor = Buffer.alloc(12)
    writeU64(cursor, acked, 0)
    cursor.writeUInt32LE(crc32(cursor.subarray(0, 8)), 8)
    writeFileSync(cursorFile, cursor, { mode: 0o600 })
    ackedWritten = acked
  }

  const rotate = (): void => {
    writePending()
    fsyncSync(fd)
    fsyncs++
    unsynced = 0
    closeSync(fd)
    active = { first: active.last + 1, last: active.last, bytes: 0, newestTs: 0, file: path.join(dir, segmentName(active.last + 1)) }
    segments.push(active)
    fd = openSync(active.file, 'a', 0o600)
  }

  const dropSegment = (index: number, why: 'full' | 'age'): void => {
    const [segment] = segments.splice(index, 1) as [Segment]
    const lost = Math.max(0, segment.last - Math.max(acked, segment.first - 1))
    dropped[why] += lost
    acked = Math.max(acked, segment.last)
    totalBytes -= segment.bytes
    unlinkSync(segment.file)
    if (reader.seq <= segment.last) reader = { seq: segment.last + 1, segment: undefined, offset: 0 }
    if (lost > 0) warn(`queue ${why === 'full' ? `full (${maxBytes} bytes)` : `records older than ${maxAgeMs} ms`}: dropped ${lost} oldest record(s) (${segment.first}–${segment.last})`)
  }

  // ── reading ──
  let reader: { seq: number, segment: Segment | undefined, offset: number } = { seq: acked + 1, segment: undefined, offset: 0 }
  let readFd: { file: string, fd: number } | undefined
  let chunk = { file: '', start: 0, buf: Buffer.alloc(0) }
  const CHUNK = 256 * 1024

  const fill = (segment: Segment, offset: number, need: number): Buffer => {
    if (chunk.file === segment.file && offset >= chunk.start && offset + need <= chunk.start + chunk.buf.length) return chunk.buf
    if (readFd?.file !== segment.file) {
      if (readFd !== undefined) closeSync(readFd.fd)
      readFd = { file: segment.file, fd: openSync(segment.file, 'r') }
    }
    const size = Math.min(Math.max(CHUNK, need), fstatSync(readFd.fd).size - offset)
    const buf = Buffer.allocUnsafe(Math.max(size, 0))
    let got = 0
    while (got < size) {
      const n = readSync(readFd.fd, buf, got, size - got, offset + got)
      if (n === 0) break
      got += n
    }
    chunk = { file: segment.file, start: offset, buf: buf.subarray(0, got) }
    return chunk.buf
  }

  /** the record `reader.seq`: read on from the reader's offset in the same segment, else from the segment's start */
  const readNext = (): QueuedRecord | undefined => {
    // numbering may skip between segments (after an unclean stop): go on at the next stored record
    const segment = reader.segment !== undefined && reader.seq <= reader.segment.last ? reader.segment : segments.find(s => reader.seq <= s.last && s.first <= s.last)
    if (segment === undefined) return undefined
    if (reader.seq < segment.first) reader = { seq: segment.first, segment: undefined, offset: 0 }
    if (segment === active && pending.length > 0) writePending()
    let seqAt = reader.segment === segment ? reader.seq : segment.first
    let offset = reader.segment === segment ? reader.offset : 0
    for (;;) {
      const head = fill(segment, offset, HEADER)
      const length = head.length - (offset - chunk.start) >= HEADER ? head.readUInt32LE(offset - chunk.start) : 0
      const decoded = decodeRecord(fill(segment, offset, HEADER + length), offset - chunk.start)
      if (typeof decoded === 'string') throw new Error(`queue segment ${path.basename(segment.file)}: record ${seqAt} at ${offset} is ${decoded} though this process wrote it`)
      if (seqAt === reader.seq) {
        reader = { seq: reader.seq + 1, segment, offset: offset + decoded.size }
        return decoded.record
      }
      offset += decoded.size
      seqAt++
    }
  }

  let ageCountedThrough = acked

  return {
    append (topic, body) {
      if (closed) return undefined
      const ts = now()
      const size = HEADER + 2 + Buffer.byteLength(topic) + body.length
      if (size > segmentBytes) {
        dropped.tooLarge++
        return undefined
      }
      if (active.bytes + size > segmentBytes && active.last >= active.first) rotate()
      // the bound holds on disk: the oldest segments go before a record that would pass it is written
      while (totalBytes + size > maxBytes && segments.length > 1) dropSegment(0, 'full')
      const seq = active.last + 1
      pending.push(encodeRecord(seq, ts, topic, body))
      active.last = seq
      active.bytes += size
      active.newestTs = ts
      totalBytes += size
      unsynced++
      if (unsynced >= options.fsyncEveryRecords || options.fsyncEveryMs === 0) {
        if (!writeScheduled) setImmediate(sync)
        writeScheduled = true
      } else {
        if (!writeScheduled) setImmediate(writePending)
        writeScheduled = true
        syncTimer ??= setTimeout(sync, options.fsyncEveryMs)
      }
      return seq
    },

    next () {
      const oldest = now() - maxAgeMs
      for (;;) {
        if (reader.seq <= acked) reader = { seq: acked + 1, segment: undefined, offset: 0 }
        if (reader.seq > active.last) return undefined
        // whole segments past their age go without being read
        const first = segments[0]
        if (first !== undefined && first !== active && first.newestTs < oldest) {
          dropSegment(0, 'age')
          continue
        }
        const record = readNext()
        if (record === undefined) return undefined
        if (record.ts >= oldest) return record
        if (record.seq > ageCountedThrough) {
          dropped.age++
          ageCountedThrough = record.seq
        }
      }
    },

    rewind () {
      reader = { seq: acked + 1, segment: undefined, offset: 0 }
    },

    ack (seq) {
      if (seq <= acked) return
      acked = Math.min(seq, active.last)
      while (segments.length > 1 && (segments[0] as Segment).last <= acked) {
        const [segment] = segments.splice(0, 1) as [Segment]
        totalBytes -= segment.bytes
        unlinkSync(segment.file)
      }
      cursorTimer ??= setTimeout(writeCursor, CURSOR_EVERY_MS)
    },

    stats () {
      const records = segments.reduce((sum, s) => sum + Math.max(0, s.last - Math.max(acked, s.first - 1)), 0)
      return { id, records, bytes: totalBytes, lastSeq: active.last, acked, dropped: { ...dropped }, cutBytes, fsyncs }
    },

    close () {
      if (closed) return
      closed = true
      writePending()
      fsyncSync(fd)
      closeSync(fd)
      if (readFd !== undefined) closeSync(readFd.fd)
      if (syncTimer !== undefined) clearTimeout(syncTimer)
      if (cursorTimer !== undefined) clearTimeout(cursorTimer)
      writeCursor()
      unlinkSync(dirtyFile)
    },
  }
}
