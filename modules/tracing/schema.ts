// tracing: keeps the spans of sampled traces in memory, serves them to `outpost trace` and the dashboard,
// and exports them to an OpenTelemetry collector (docs/observability.md, "Tracing").
import { z } from 'zod'

export const config = z.object({
  /** spans kept, all traces together; past it the oldest traces are evicted */
  maxSpans: z.number().int().min(100).max(1_000_000).default(10_000),
  /** estimated bytes kept (store.ts, `spanBytes`); past it the oldest traces are evicted */
  maxBytes: z.number().int().min(65_536).max(1_073_741_824).default(4 * 1024 * 1024),
  /** spans kept of one trace; later ones are dropped and counted (a module looping over calls in one handler) */
  maxSpansPerTrace: z.number().int().min(10).max(100_000).default(1000),
  /** OTLP/HTTP JSON export to a collector */
  otlp: z.object({
    /** the collector's traces endpoint, e.g. http://127.0.0.1:4318/v1/traces */
    url: z.string().url().refine(url => /^https?:\/\//.test(url), 'an http:// or https:// URL')
      // the URL is logged (export failures), where viewers and modules read it: credentials go in `headers`
      .refine(url => { const u = new URL(url); return u.username === '' && u.password === '' }, 'no user or password in the URL (it is logged): put credentials in "headers"'),
    headers: z.record(z.string(), z.string()).default({}),
    intervalMs: z.number().int().min(100).max(3_600_000).default(5000),
    /** spans waiting for export, at most; past it the oldest are dropped and counted */
    maxQueue: z.number().int().min(100).max(1_000_000).default(10_000),
    /** spans per POST */
    batchSpans: z.number().int().min(1).max(10_000).default(512),
    /** how long one POST may take */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  }).strict().optional(),
}).strict().refine(c => c.maxSpansPerTrace <= c.maxSpans, { message: 'maxSpansPerTrace must not exceed maxSpans', path: ['maxSpansPerTrace'] })

export type Config = z.infer<typeof config>
