// The supervision section of docs/benchmarks.md: each figure next to its baseline from the same run.
import type { SupervisionResults, SupervisionSettings } from './supervision.js'

const ms = (n: number): string => `${n.toFixed(0)} ms`

export interface SupervisionTarget {
  what: string
  measured: string
  baseline: string
  target: string
  pass: boolean
}

export function supervisionTargets (r: SupervisionResults, s: SupervisionSettings, backoffMs: number): SupervisionTarget[] {
  const breachBound = s.sampleMs + s.graceMs
  return [
    {
      what: '`kill -9` of a module → its first answered call (median)',
      measured: ms(r.restartMs.p50),
      baseline: `SDK module start ${ms(r.sdkModuleStartMs)} + backoff ${ms(backoffMs)} = ${ms(r.sdkModuleStartMs + backoffMs)}`,
      target: '< 300 ms',
      pass: r.restartMs.p50 < 300,
    },
    {
      what: 'budget crossed → module stopped (worst of the runs)',
      measured: ms(r.breachToStopMs.max),
      baseline: `sampling interval ${ms(s.sampleMs)} + grace ${ms(s.graceMs)}`,
      target: `≤ ${ms(breachBound)}`,
      pass: r.breachToStopMs.max <= breachBound,
    },
    {
      what: `memory sampler CPU, ${r.sampler.modules} modules every ${ms(r.sampler.intervalMs)}`,
      measured: `${r.sampler.cpuPercent.toFixed(2)} % of one core`,
      baseline: `same window unwatched: ${r.sampler.idleCpuPercent.toFixed(2)} %`,
      target: '< 1 % of one core',
      pass: r.sampler.cpuPercent < 1,
    },
  ]
}

export function renderSupervision (r: SupervisionResults, s: SupervisionSettings, backoffMs: number): string {
  const rows = supervisionTargets(r, s, backoffMs).map(t => `| ${t.what} | ${t.measured} | ${t.baseline} | ${t.target} | ${t.pass ? 'PASS' : '**MISS**'} |`)
  const overhead = r.restartMs.p50 - r.sdkModuleStartMs - backoffMs
  return [
    '## Supervision',
    '',
    '| target | measured | baseline (same run) | goal | result |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `- Restart: ${s.kills} kills of an idle SDK module, each from a fresh start (so each is a first failure, with the first backoff step of ${ms(backoffMs)} ± 20 %). ` +
      `Median ${ms(r.restartMs.p50)}, worst ${ms(r.restartMs.max)}. A bare \`node -e 0\` runs in ${ms(r.bareNodeStartMs)}; an SDK module is ready ${ms(r.sdkModuleStartMs)} after spawn. ` +
      `What the supervisor adds beyond the policy's backoff and the module's own start: ≈ ${ms(overhead)} (exit noticed, credential issued, spawn, ready presence routed, the caller's retry).`,
    `- Budget breach: a module leaking 50 MB/s past a 48 MiB budget, sampled every ${ms(s.sampleMs)} with a ${ms(s.graceMs)} grace; measured from the module's own reading crossing the budget to the core's stop order. Runs: ${r.breachToStopMs.samples.map(ms).join(', ')}.`,
    `- Sampler: ${r.sampler.modules} idle processes watched for ${(s.samplerWindowMs / 1000).toFixed(0)} s; CPU of the watching process minus the same window unwatched.`,
    '',
  ].join('\n')
}
