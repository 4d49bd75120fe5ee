// CPU affinity for benchmarks that time a few per cent: on a machine of two cores, the scheduler moving a
// gateway's three busy processes (core, caller, callee) between the cores, and the benchmark's own client
// onto theirs, swung a round's p50 by a fifth; the gateways on a core of their own swing by a twentieth.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export interface Placement {
  /** the CPU the gateways run on: the last one the benchmark may use */
  gateways: string
  /** the CPUs left to the benchmark process */
  bench: string
  /** the benchmark's own affinity as it was: set again afterwards */
  all: string
}

/** the CPUs of a taskset list such as "0-3,6" */
function cpusOf (list: string): number[] {
  return list.split(',').flatMap(part => {
    const [from, to] = part.split('-').map(Number)
    if (from === undefined || !Number.isInteger(from)) return []
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i)
  })
}

/**
 * one CPU of those this process may use for the gateways, the others for the benchmark; null when it may use
 * only one, or there is no taskset
 */
export function placement (): Placement | null {
  let list: string
  try {
    // "pid 123's current affinity list: 0-3,6"
    list = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' }).trim().split(': ').pop() ?? ''
  } catch {
    return null
  }
  const cpus = cpusOf(list)
  const last = cpus.pop()
  if (last === undefined || cpus.length === 0) return null
  return { gateways: String(last), bench: cpus.join(','), all: list }
}

/** sets the affinity of every thread of `pid` (the processes it starts afterwards inherit it); a process gone meanwhile is left */
export function pin (pid: number, cpus: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' })
  } catch (err) {
    if (existsSync(`/proc/${pid}`)) throw err
  }
}
