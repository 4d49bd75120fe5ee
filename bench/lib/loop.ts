// The call loop shared by the SDK caller module and the raw-socket client, so both paths are timed the same
// way: `inflight` workers each issue calls back to back until `count` calls are done or `maxMs` has passed.
import { performance } from 'node:perf_hooks'
import { summarise } from './stats.js'
import type { LatencyRun } from './stats.js'

export interface LoopSpec {
  count: number
  inflight: number
  maxMs: number
  /** calls made (and not timed) before measuring, within the same time bound */
  warmup: number
}

async function drive (call: () => Promise<unknown>, count: number, inflight: number, deadline: number, latencies: Float64Array | null): Promise<number> {
  let started = 0
  let done = 0
  const worker = async (): Promise<void> => {
    while (started < count && performance.now() < deadline) {
      started++
      const t0 = performance.now()
      await call()
      if (latencies !== null) latencies[done] = (performance.now() - t0) * 1000
      done++
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, inflight) }, worker))
  return done
}

export async function runLoop (call: () => Promise<unknown>, spec: LoopSpec): Promise<LatencyRun> {
  const deadline = performance.now() + spec.maxMs
  await drive(call, spec.warmup, spec.inflight, deadline, null)
  const latencies = new Float64Array(spec.count)
  const t0 = performance.now()
  const done = await drive(call, spec.count, spec.inflight, deadline, latencies)
  return summarise(latencies, done, performance.now() - t0)
}
