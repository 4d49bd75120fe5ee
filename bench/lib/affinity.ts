// CPU affinity for benchmarks that time a few per cent: on a machine of two cores, the scheduler moving a
// gateway's three busy processes (core, caller, callee) between the cores, and the benchmark's own client
// onto theirs, swung a round's p50 by a fifth; the gateways on a core of their own swing by a twentieth.
import { execFileSync } from 'node:child_process'
import os from 'node:os'

export interface Placement {
  /** the CPU the gateways run on: the last one */
  gateways: string
  /** the CPUs left to the benchmark process */
  bench: string
  /** every CPU: the benchmark's own affinity again afterwards */
  all: string
}

/** one core for the gateways, the rest for the benchmark; null on a machine of one core or without taskset */
export function placement (): Placement | null {
  const cpus = os.availableParallelism()
  if (cpus < 2) return null
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return null
  }
  return { gateways: String(cpus - 1), bench: cpus === 2 ? '0' : `0-${cpus - 2}`, all: `0-${cpus - 1}` }
}

/** sets the affinity of every thread of `pid` (the processes it starts afterwards inherit it) */
export function pin (pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' })
}
