// Metric families written in the two text formats Prometheus reads: the Prometheus text format 0.0.4 and
// OpenMetrics 1.0.0. They differ in three places: a counter's TYPE line names it with `_total` in the first
// and without it in the second, OpenMetrics has `# UNIT` lines, and OpenMetrics ends with `# EOF`.

export type MetricType = 'gauge' | 'counter' | 'histogram'

export interface Sample {
  /** appended to the family's name: `_total` for counters is added by the writer; `_bucket`, `_sum`, `_count` for histograms */
  suffix?: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  /** without `_total` for counters: `outpost_module_restarts` */
  name: string
  type: MetricType
  help: string
  /** the unit its name ends with (`bytes`, `seconds`), for OpenMetrics' UNIT line */
  unit?: 'bytes' | 'seconds'
  samples: Sample[]
}

export type Format = 'prometheus' | 'openmetrics'

export const CONTENT_TYPES: Record<Format, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
}

/** OpenMetrics when the scraper asks for it (Prometheus does so first, by default), else the 0.0.4 text format */
export function formatFor (accept: string | undefined): Format {
  return accept !== undefined && accept.includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus'
}

function escapeLabel (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function escapeHelp (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function number (value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function labels (set: Record<string, string>): string {
  const pairs = Object.entries(set).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`
}

export function render (families: Family[], format: Format): string {
  const lines: string[] = []
  for (const family of families) {
    const counter = family.type === 'counter'
    const declared = counter && format === 'prometheus' ? `${family.name}_total` : family.name
    lines.push(`# HELP ${declared} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${declared} ${family.type}`)
    if (format === 'openmetrics' && family.unit !== undefined) lines.push(`# UNIT ${declared} ${family.unit}`)
    for (const sample of family.samples) {
      const suffix = counter ? '_total' : sample.suffix ?? ''
      lines.push(`${family.name}${suffix}${labels(sample.labels)} ${number(sample.value)}`)
    }
  }
  if (format === 'openmetrics') lines.push('# EOF')
  return lines.join('\n') + '\n'
}

/**
 * A histogram's samples from per-bucket counts (not cumulative; one more than `boundsSeconds`, for +Inf) and
 * their sum: cumulative `_bucket` samples ending with `le="+Inf"`, then `_sum` and `_count`.
 */
export function histogramSamples (labelSet: Record<string, string>, boundsSeconds: number[], counts: number[], sum: number): Sample[] {
  const samples: Sample[] = []
  let total = 0
  counts.forEach((count, i) => {
    total += count
    const bound = boundsSeconds[i]
    samples.push({ suffix: '_bucket', labels: { ...labelSet, le: bound === undefined ? '+Inf' : String(bound) }, value: total })
  })
  samples.push({ suffix: '_sum', labels: labelSet, value: sum }, { suffix: '_count', labels: labelSet, value: total })
  return samples
}
