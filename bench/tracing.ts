// Benchmark 5: what query tracking costs an RPC (issue 13). Four cores run the RPC echo and caller at once:
// the code before tracing existed (built by before.ts), and this code with tracing off (no `tracing` in the
// manifest), on but not sampled (rate 0: every request carries the context, nothing is recorded), and
// sampled at 1.0 (every call records two spans, sent to a running tracing module). The caller's `run`
// request is the root, so its calls are one trace, as a handler's calls are. Rounds alternate between
// the four, and each ratio is the median of the per-round ratios (pairedRatio), as in section 4.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildAt } from './lib/before.js'
import type { Cleanup } from './lib/cleanup.js'
import { benchNames, npmStart, startCore } from './lib/stacks.js'
import type { CoreOptions } from './lib/stacks.js'
import { pairedRatio } from './lib/stats.js'
import { runRpc, sdkPath } from './rpc.js'
import type { RpcPathResult, RpcSettings } from './rpc.js'

/** the last commit before query tracking */
export const TRACING_BEFORE = '1f2f8ae'
const RPC: RpcSettings = {
  warmupRounds: 1,
  rounds: 7,
  sequential: { count: 2000, inflight: 1, maxMs: 3000, warmup: 300 },
  parallel: { count: 10_000, inflight: 32, maxMs: 3000, warmup: 1000 },
}
/** not sampled: at most this much slower than without the feature (issue 13) */
const TARGET = 1.03

interface Variant { label: string, options: CoreOptions }

/** Runs the benchmark (its own folder and processes, undone by `cleanup`) and returns its report section. */
export async function runTracing (cleanup: Cleanup, log: (line: string) => void): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-bench-tracing-'))
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  log(`tracing: building the core before query tracking (${TRACING_BEFORE})`)
  const beforeRoot = buildAt(TRACING_BEFORE, path.join(dir, 'tracing-before'))
  const variants: Variant[] = [
    { label: `before tracing (${TRACING_BEFORE})`, options: { root: beforeRoot, rpcOnly: true } },
    { label: 'tracing off', options: { rpcOnly: true } },
    { label: 'on, not sampled (rate 0)', options: { rpcOnly: true, manifest: { tracing: { sampleRate: 0 } } } },
    { label: 'on, sampled (rate 1)', options: { rpcOnly: true, manifest: { tracing: { sampleRate: 1 } }, entries: [{ name: 'tracing', entry: 'modules/tracing', tracing: { sampleRate: 0 } }] } },
  ]
  const stacks = []
  for (const [i, v] of variants.entries()) {
    log(`tracing: starting the core "${v.label}"`)
    stacks.push(await startCore(v.label, path.join(dir, `tracing-${i}`), npmStart(v.options.root), benchNames(`-t${i}`), cleanup, v.options))
  }
  const results = await runRpc(stacks.map(sdkPath), RPC, line => log(`tracing: ${line}`))
  return render(results)
}

function render (results: RpcPathResult[]): string {
  const [base, ...rest] = results
  if (base === undefined) throw new Error('no baseline result')
  const row = (r: RpcPathResult): string => {
    const seq = r === base ? '' : `${pairedRatio(r.rounds.sequentialP50Us, base.rounds.sequentialP50Us).toFixed(3)}×`
    const par = r === base ? '' : `${pairedRatio(r.rounds.parallelP50Us, base.rounds.parallelP50Us).toFixed(3)}×`
    return `| ${r.label} | ${r.sequential.p50Us.toFixed(0)} µs | ${seq} | ${r.parallel.p50Us.toFixed(0)} µs | ${par} | ${r.parallel.callsPerSec.toFixed(0)} |`
  }
  const unsampled = rest.find(r => r.label.startsWith('on, not sampled'))
  const ratio = unsampled === undefined ? Number.NaN : pairedRatio(unsampled.rounds.sequentialP50Us, base.rounds.sequentialP50Us)
  return [
    '## Query tracking: what a trace costs an RPC',
    '',
    `Module → module RPC through four cores running at once (bench/tracing.ts): the code before tracing, and this code with tracing off, on at rate 0, and on at rate 1 with the tracing module collecting. ${RPC.rounds} rounds after ${RPC.warmupRounds} warm-up, alternating; ratios are the median of per-round ratios against the code before tracing.`,
    '',
    '| core | sequential p50 | vs before | 32 in flight p50 | vs before | calls/s (32 in flight) |',
    '|---|---|---|---|---|---|',
    ...results.map(row),
    '',
    `Target: on but not sampled, sequential p50 ≤ ${TARGET.toFixed(2)}× the code before tracing: ${ratio.toFixed(3)}× — ${ratio <= TARGET ? 'met' : 'missed'}.`,
    '',
  ].join('\n')
}
