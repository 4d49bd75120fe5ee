// Userspace memory budgets: samples each watched module's whole process tree and reports a breach once it
// has stayed over its limit for a grace period. The measure is private memory, RssAnon + RssShmem from
// /proc/<pid>/status — what the process costs the board and what a cgroup would charge it — not RSS, which
// counts ≈ 35 MB of node binary pages shared by every process (docs/supervision.md).
//
// Cost: /proc/<pid>/status stays open and is re-read with one pread per sample (≈ 0.2–0.3% of a core for
// 20 processes at 250 ms; reopening costs 3×, smaps_rollup 25×). A kept fd also answers ESRCH once its
// process is gone, so a reused PID cannot be mistaken for the module. The tree (and CPU time, for `top`)
// is refreshed every `rescanEvery` samples: one pass over /proc/*/stat finds every process's parent (the
// cheaper /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN, which kernels do not all have).
import { closeSync, openSync, readSync, readdirSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

export interface MemoryLimit {
  limitBytes: number
  /** how long the tree may stay over the limit before it is a breach (absorbs GC peaks) */
  graceMs: number
}

export interface ModuleSample {
  id: string
  pid: number
  /** private memory of the whole tree */
  bytes: number
  /** processes in the tree: the module and its live descendants */
  processes: number
  /** CPU time of the tree (user + system, including reaped descendants), refreshed every rescan */
  cpuMs: number
}

export interface Breach {
  id: string
  pid: number
  limitBytes: number
  measuredBytes: number
  overForMs: number
}

export interface MemorySamplerOptions {
  /** default 250, at most 500 (a process growing 200 MB/s overshoots by ≈ 200 KB per ms of interval) */
  intervalMs?: number
  /** refresh process trees and CPU times every Nth sample (default 8: every 2 s at 250 ms) */
  rescanEvery?: number
  onSample? (sample: ModuleSample): void
  /** once per breach: called again only after the tree has come back under its limit */
  onBreach (breach: Breach): void
}

export interface MemorySampler {
  /** false when the process is already gone; watching an id again replaces its process and limit */
  watch (id: string, pid: number, limit: MemoryLimit): boolean
  /**
   * Stops watching; returns the descendants the last scan found that are still alive (checked on their kept
   * fds, so never a reused PID): what a module left behind when it exited, for the caller to kill.
   */
  unwatch (id: string): number[]
  /** samples one watched module now (e.g. once it is ready: an earlier sample may predate its exec) */
  sample (id: string): void
  /** the latest sample, or undefined when not watched (a module whose process has gone is unwatched) */
  usage (id: string): ModuleSample | undefined
  stop (): void
}

interface Proc { pid: number, status: number, stat: number }

interface Entry {
  id: string
  root: Proc
  limit: MemoryLimit
  descendants: Map<number, Proc>
  cpuMs: number
  overSince: number | null
  breached: boolean
  last: ModuleSample | undefined
}

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Outpost runs on */
const MS_PER_TICK = 10
const RSS_ANON = Buffer.from('RssAnon:')
const RSS_SHMEM = Buffer.from('RssShmem:')
// one buffer for every read: sampling is synchronous, and a status file is ≈ 1.5 KB
const buffer = Buffer.alloc(8192)

function read (fd: number): number | undefined {
  try {
    return readSync(fd, buffer, 0, buffer.length, 0)
  } catch {
    return undefined // ESRCH: the process is gone
  }
}

function kbField (text: Buffer, key: Buffer): number {
  const at = text.indexOf(key)
  if (at < 0) return 0 // a zombie has no memory lines
  let value = 0
  for (let i = at + key.length; i < text.length; i++) {
    const c = text[i] as number
    if (c >= 0x30 && c <= 0x39) value = value * 10 + c - 0x30
    else if (c !== 0x20 && c !== 0x09) break
  }
  return value * 1024
}

function privateBytes (proc: Proc): number | undefined {
  const n = read(proc.status)
  if (n === undefined) return undefined
  const text = buffer.subarray(0, n)
  return kbField(text, RSS_ANON) + kbField(text, RSS_SHMEM)
}

/** fields of /proc/<pid>/stat after "pid (comm)": the name may hold spaces and parentheses */
function statFields (text: string): string[] | undefined {
  const close = text.lastIndexOf(')')
  return close < 0 ? undefined : text.slice(close + 2).split(' ')
}

const ppidOf = (fields: string[]): number => Number(fields[1])
// utime, stime, cutime, cstime (fields 14–17): cutime/cstime hold reaped children, never counted twice
const ticksOf = (fields: string[]): number => Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])

function readStat (proc: Proc): string[] | undefined {
  const n = read(proc.stat)
  return n === undefined ? undefined : statFields(buffer.toString('latin1', 0, n))
}

function openProc (pid: number, expectedParent?: number): Proc | undefined {
  let status: number | undefined
  try {
    status = openSync(`/proc/${pid}/status`, 'r')
    const proc = { pid, status, stat: openSync(`/proc/${pid}/stat`, 'r') }
    // the scan saw this pid under a parent in the tree; make sure the fd is that process, not a reuse
    const fields = readStat(proc)
    if (fields !== undefined && (expectedParent === undefined || ppidOf(fields) === expectedParent)) return proc
    closeProc(proc)
  } catch {
    if (status !== undefined) closeSync(status)
  }
  return undefined
}

function closeProc (proc: Proc): void {
  closeSync(proc.status)
  closeSync(proc.stat)
}

/** children of every process, from one pass over /proc/<pid>/stat */
function scanChildren (): Map<number, number[]> {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid)) continue
    let fd: number | undefined
    try {
      fd = openSync(`/proc/${name}/stat`, 'r')
      const fields = statFields(buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0)))
      if (fields === undefined) continue
      const ppid = ppidOf(fields)
      const list = children.get(ppid)
      if (list === undefined) children.set(ppid, [pid])
      else list.push(pid)
    } catch {
      // gone between readdir and open
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
  return children
}

function refreshTree (entry: Entry, children: Map<number, number[]>): void {
  const parentOf = new Map<number, number>()
  const queue = [entry.root.pid]
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      parentOf.set(child, pid)
      queue.push(child)
    }
  }
  for (const [pid, proc] of entry.descendants) {
    if (parentOf.has(pid)) continue
    closeProc(proc)
    entry.descendants.delete(pid)
  }
  for (const [pid, parent] of parentOf) {
    if (entry.descendants.has(pid)) continue
    const proc = openProc(pid, parent)
    if (proc !== undefined) entry.descendants.set(pid, proc)
  }
}

function treeCpuMs (entry: Entry): number {
  let ticks = 0
  for (const proc of [entry.root, ...entry.descendants.values()]) {
    const fields = readStat(proc)
    if (fields !== undefined) ticks += ticksOf(fields)
  }
  return ticks * MS_PER_TICK
}

export function createMemorySampler (options: MemorySamplerOptions): MemorySampler {
  const intervalMs = Math.min(500, Math.max(10, options.intervalMs ?? 250))
  const rescanEvery = Math.max(1, options.rescanEvery ?? 8)
  const entries = new Map<string, Entry>()
  let timer: NodeJS.Timeout | undefined
  let ticks = 0
  let rescanSoon = false

  // the descendants of modules whose process has gone, kept until unwatched: they are what it left behind
  const orphans = new Map<string, Map<number, Proc>>()

  /** stops sampling an entry; its descendants stay open in `orphans` until the entry is unwatched */
  const retire = (entry: Entry): void => {
    closeProc(entry.root)
    entries.delete(entry.id)
    orphans.set(entry.id, entry.descendants)
    if (entries.size === 0 && timer !== undefined) {
      clearInterval(timer)
      timer = undefined
    }
  }

  const drop = (id: string): number[] => {
    const entry = entries.get(id)
    if (entry !== undefined) retire(entry)
    const left = orphans.get(id)
    orphans.delete(id)
    const alive: number[] = []
    for (const proc of left?.values() ?? []) {
      if (read(proc.status) !== undefined) alive.push(proc.pid)
      closeProc(proc)
    }
    return alive
  }

  const sampleEntry = (entry: Entry, rescan: boolean, now: number): void => {
    let bytes = privateBytes(entry.root)
    if (bytes === undefined) {
      retire(entry)
      return
    }
    for (const [pid, proc] of entry.descendants) {
      const own = privateBytes(proc)
      if (own !== undefined) {
        bytes += own
        continue
      }
      closeProc(proc)
      entry.descendants.delete(pid)
    }
    if (rescan) entry.cpuMs = treeCpuMs(entry)
    const sample: ModuleSample = { id: entry.id, pid: entry.root.pid, bytes, processes: 1 + entry.descendants.size, cpuMs: entry.cpuMs }
    entry.last = sample
    if (bytes <= entry.limit.limitBytes) {
      entry.overSince = null
      entry.breached = false
    } else {
      entry.overSince ??= now
      const overForMs = now - entry.overSince
      // judged in whole intervals, not in ms: timer jitter would otherwise turn a 500 ms grace measured
      // at 250 ms into 499.8 ms and push the verdict a whole interval later
      if (!entry.breached && Math.round(overForMs / intervalMs) * intervalMs >= entry.limit.graceMs) {
        entry.breached = true
        options.onBreach({ id: entry.id, pid: entry.root.pid, limitBytes: entry.limit.limitBytes, measuredBytes: bytes, overForMs: Math.round(overForMs) })
      }
    }
    options.onSample?.(sample)
  }

  const tick = (): void => {
    const rescan = ticks++ % rescanEvery === 0 || rescanSoon
    rescanSoon = false
    const children = rescan ? scanChildren() : undefined
    const now = performance.now() // monotonic: a board without an RTC jumps years at its first NTP sync
    for (const entry of [...entries.values()]) {
      // an earlier entry's callback may have unwatched this one
      if (entries.get(entry.id) !== entry) continue
      // a root gone before the scan has no children in it: its tree stays as last measured (what it left behind)
      if (children !== undefined && read(entry.root.status) !== undefined) refreshTree(entry, children)
      sampleEntry(entry, rescan, now)
    }
  }

  const sampler: MemorySampler = {
    watch (id, pid, limit) {
      drop(id)
      const root = openProc(pid)
      if (root === undefined) return false
      entries.set(id, { id, root, limit, descendants: new Map(), cpuMs: 0, overSince: null, breached: false, last: undefined })
      rescanSoon = true
      if (timer === undefined) {
        timer = setInterval(tick, intervalMs)
        timer.unref()
      }
      return true
    },
    unwatch: drop,
    sample (id) {
      const entry = entries.get(id)
      if (entry !== undefined) sampleEntry(entry, false, performance.now())
    },
    usage: id => entries.get(id)?.last,
    stop () {
      for (const id of [...entries.keys(), ...orphans.keys()]) drop(id)
    },
  }
  return sampler
}
