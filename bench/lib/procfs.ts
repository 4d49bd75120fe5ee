// Process memory from /proc: RSS (what `ps` shows, including the node binary's shared pages) and USS
// (private pages only: what the process alone costs the board).
import { readFileSync, readdirSync } from 'node:fs'

function field (text: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)
  if (match === null) throw new Error(`no ${name} in /proc output`)
  return Number(match[1])
}

export function rssMiB (pid: number): number {
  return field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') / 1024
}

/** RssFile: pages mapped from files (the node binary, libraries), shared with every process mapping them */
export function rssFileMiB (pid: number): number {
  return field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'RssFile') / 1024
}

/** USS = Private_Clean + Private_Dirty from smaps_rollup (too dear to poll often: for one-off readings) */
export function ussMiB (pid: number): number {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  return (field(text, 'Private_Clean') + field(text, 'Private_Dirty')) / 1024
}

/** CPU time (user + system) a process has used, in ms: /proc/<pid>/stat counts it in ticks of USER_HZ (100 on Linux) */
export function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // state is field 3; utime and stime are fields 14 and 15
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** CPU time (user + system) of `root` and every process below it, in ms, from /proc */
export function treeCpuMs (root: number): number {
  let ticks = 0
  for (const t of processTree(root).values()) ticks += t
  return ticks * 10
}

/**
 * CPU time (user + system) of `root` and every process below it, in ms, from /proc, by process: `core` for
 * `root`, a module's name (OUTPOST_MODULE in its environment) for a module's process, `other` for the rest
 */
export function treeCpuByProcess (root: number): Map<string, number> {
  const byProcess = new Map<string, number>()
  for (const [pid, ticks] of processTree(root)) {
    const name = pid === root ? 'core' : moduleOf(pid)
    byProcess.set(name, (byProcess.get(name) ?? 0) + ticks * 10)
  }
  return byProcess
}

/** `root` and every process below it, from /proc: pid → CPU time (user + system) in ticks of USER_HZ (100 on Linux) */
export function processTree (root: number): Map<number, number> {
  const parent = new Map<number, number>()
  const ticks = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // gone meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // state ppid … utime (14th field) stime (15th)
    parent.set(Number(name), Number(fields[1]))
    ticks.set(Number(name), Number(fields[11]) + Number(fields[12]))
  }
  const tree = new Map<number, number>()
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        tree.set(pid, t)
        break
      }
    }
  }
  return tree
}

function moduleOf (pid: number): string {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8')
    return /(?:^|\0)OUTPOST_MODULE=([^\0]*)/.exec(environ)?.[1] ?? 'other'
  } catch {
    return 'other' // gone meanwhile
  }
}

/** Open file descriptors of a process (the soak watches them for leaks). */
export function openFds (pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

export interface PeakSampler {
  /** the highest reading since start */
  peak (): number
  stop (): void
}

/**
 * Takes a reading every `everyMs` and keeps the highest. RSS from /proc/<pid>/status is cheap to read
 * often (FIELD-NOTES); USS from smaps_rollup walks the page tables, so sample it a few times a second at most.
 */
export function samplePeak (read: () => number, everyMs: number): PeakSampler {
  let peak = 0
  const take = (): void => {
    try {
      peak = Math.max(peak, read())
    } catch {
      // the process is gone; the caller notices elsewhere
    }
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    peak: () => { take(); return peak },
    stop: () => clearInterval(timer),
  }
}
