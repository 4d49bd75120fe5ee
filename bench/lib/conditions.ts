// When and how loaded a section ran, for its report: the figures of a 2-core machine move with what else runs.
import os from 'node:os'

export interface RunConditions {
  startedAt: Date
  /** load average (1, 5, 15 min) at the start */
  loadBefore: number[]
}

export function startRun (): RunConditions {
  return { startedAt: new Date(), loadBefore: os.loadavg() }
}

const loads = (l: number[]): string => l.map(x => x.toFixed(2)).join(', ')

/** one sentence: date, Node version, duration and the load at the start and now, against the machine's cores */
export function describeRun (run: RunConditions): string {
  const seconds = (Date.now() - run.startedAt.getTime()) / 1000
  return `Run on ${run.startedAt.toISOString()} (node ${process.version}), ${seconds.toFixed(0)} s, on ${os.cpus().length} cores; load average (1, 5, 15 min) ${loads(run.loadBefore)} at the start and ${loads(os.loadavg())} at the end (above the number of cores, other work shared the machine).`
}
