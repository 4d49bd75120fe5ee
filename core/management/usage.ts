// Memory and CPU of one process read from /proc: for the core itself in `info`, and for a module instance
// the memory watch has not sampled yet. Two small files, only when an operator asks.
import { readFileSync } from 'node:fs'

export interface ProcessUsage {
  /** private memory, RssAnon + RssShmem: what the process costs the board (the budget's measure) */
  memoryBytes: number
  /** user + system CPU time since the process started */
  cpuMs: number
}

// USER_HZ: 100 on every Linux architecture a gateway runs on (the kernel reports /proc times in it)
const TICK_MS = 10

function kB (status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}

/** null when the process is gone (or /proc is not there) */
export function processUsage (pid: number): ProcessUsage | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after "(comm)": state is field 3, utime and stime are fields 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return { memoryBytes: kB(status, 'RssAnon') + kB(status, 'RssShmem'), cpuMs: Number.isFinite(ticks) ? ticks * TICK_MS : 0 }
  } catch {
    return null
  }
}
