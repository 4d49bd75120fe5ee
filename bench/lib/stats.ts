// Latency summaries. Latencies are in microseconds.

export interface LatencyRun {
  calls: number
  elapsedMs: number
  p50Us: number
  p99Us: number
  callsPerSec: number
}

export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] ?? Number.NaN
}

export function summarise (latenciesUs: Float64Array, calls: number, elapsedMs: number): LatencyRun {
  const sorted = latenciesUs.subarray(0, calls).sort()
  return {
    calls,
    elapsedMs,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    callsPerSec: elapsedMs > 0 ? (calls * 1000) / elapsedMs : 0,
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? Number.NaN : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** The run whose p50 is the median of the rounds: keeps each reported row's figures from one real run. */
export function medianRun (runs: LatencyRun[]): LatencyRun {
  const sorted = [...runs].sort((a, b) => a.p50Us - b.p50Us)
  const run = sorted[Math.floor((sorted.length - 1) / 2)]
  if (run === undefined) throw new Error('no runs to summarise')
  return run
}

/**
 * The median of the per-round ratios of two paths measured in the same rounds. Each round runs every path
 * back to back, so a round's ratio cancels the machine's drift between rounds, which the ratio of two
 * separate medians does not.
 */
export function pairedRatio (ours: number[], theirs: number[]): number {
  if (ours.length !== theirs.length) throw new Error(`paired rounds differ in number: ${ours.length} and ${theirs.length}`)
  return median(ours.map((value, i) => value / (theirs[i] as number)))
}

/**
 * The paths of one round in the order they run: as given in even rounds, reversed in odd ones. A path that
 * always ran first was measured after the bench's own pause between rounds, and the paths' places told
 * in their ratios (the same gateway came out 6–12 % apart in first and second place on 2026-12-06).
 */
export function inTurn<T> (paths: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? paths : [...paths].reverse()
}
