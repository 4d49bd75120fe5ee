// Benchmark 2: hook throughput, one publisher module process → one subscriber module process, QoS 0,
// 64-byte CBOR messages, through the embedded broker and through Mosquitto. The rate is what the
// subscriber received, from its first message to its last. Rounds alternate between the brokers.
import { PROGRESS_EVERY } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'
import { inTurn, median } from './lib/stats.js'

export interface ThroughputSettings {
  /** unmeasured rounds first: the broker's JIT and heap sizing settle over the first messages */
  warmupRounds: number
  rounds: number
  /** messages per round (a multiple of the progress interval) */
  count: number
  window: number
  maxMs: number
}

export interface ThroughputRun {
  sent: number
  received: number
  messageBytes: number
  spanMs: number
  perSec: number
}

export interface ThroughputResult {
  label: string
  /** the median round by rate */
  run: ThroughputRun
  rounds: number[]
}

export async function throughputRound (stack: Stack, settings: ThroughputSettings): Promise<ThroughputRun> {
  const count = Math.ceil(settings.count / PROGRESS_EVERY) * PROGRESS_EVERY
  const { pub, sub } = stack.names
  await stack.control.call(sub, 'reset', null, 5000)
  const blast = await stack.control.call<{ sent: number, received: number, messageBytes: number }>(pub, 'blast', { count, window: settings.window, maxMs: settings.maxMs }, settings.maxMs + 10_000)
  // the last messages may still be on their way when the publisher's clock ran out: let them land
  await new Promise(resolve => setTimeout(resolve, 200))
  const stats = await stack.control.call<{ received: number, spanMs: number }>(sub, 'stats', null, 5000)
  return {
    sent: blast.sent,
    received: stats.received,
    messageBytes: blast.messageBytes,
    spanMs: stats.spanMs,
    perSec: stats.spanMs > 0 ? ((stats.received - 1) * 1000) / stats.spanMs : 0,
  }
}

export async function runThroughput (stacks: Stack[], settings: ThroughputSettings, progress: (line: string) => void): Promise<ThroughputResult[]> {
  const runs = new Map<string, ThroughputRun[]>()
  for (let round = 1 - settings.warmupRounds; round <= settings.rounds; round++) {
    for (const stack of inTurn(stacks, round)) {
      const run = await throughputRound(stack, settings)
      const name = round < 1 ? 'warm-up' : `round ${round}/${settings.rounds}`
      progress(`throughput ${name} ${stack.label}: ${run.perSec.toFixed(0)} msg/s (${run.received}/${run.sent} received)`)
      if (round >= 1) runs.set(stack.label, [...(runs.get(stack.label) ?? []), run])
    }
  }
  return stacks.map(stack => {
    const all = runs.get(stack.label) ?? []
    const mid = median(all.map(r => r.perSec))
    const run = [...all].sort((a, b) => Math.abs(a.perSec - mid) - Math.abs(b.perSec - mid))[0]
    if (run === undefined) throw new Error(`no throughput rounds for ${stack.label}`)
    return { label: stack.label, run, rounds: all.map(r => r.perSec) }
  })
}
