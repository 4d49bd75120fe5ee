// The manifest's `metrics` section (docs/observability.md, docs/manifest.md): the HTTP endpoint a Prometheus
// server scrapes. The core turns it into the built-in module `metrics` (metrics.ts); without the section
// there is no endpoint.
import { z } from 'zod'
import { restartPolicySchema } from '../supervisor/policy-schema.js'

/** What the endpoint takes before it answers: every field has a default (docs/security.md). */
export const METRICS_LIMITS = {
  /** connections open at once; more are closed as soon as they are accepted */
  maxConnections: 16,
  /** the request line and headers together; a larger request gets 431 */
  maxHeaderBytes: 8192,
  /** a request's head (all a scrape has: a body is refused) must arrive within this; else 408 and the connection is closed */
  headersTimeoutMs: 5000,
  /** an idle kept-alive connection is closed after this */
  keepAliveTimeoutMs: 5000,
}

export const metricsSchema = z.object({
  enabled: z.boolean().default(true),
  /** the address the endpoint listens on: loopback unless set */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(9464),
  /** a snapshot of the core's counters serves every scrape within this long: a scrape storm costs the core one request per period */
  cacheMs: z.number().int().min(100).max(60_000).default(1000),
  limits: z.object({
    maxConnections: z.number().int().min(1).max(1024).default(METRICS_LIMITS.maxConnections),
    maxHeaderBytes: z.number().int().min(1024).max(65_536).default(METRICS_LIMITS.maxHeaderBytes),
    headersTimeoutMs: z.number().int().min(100).max(60_000).default(METRICS_LIMITS.headersTimeoutMs),
    keepAliveTimeoutMs: z.number().int().min(100).max(300_000).default(METRICS_LIMITS.keepAliveTimeoutMs),
  }).strict().default(METRICS_LIMITS),
  memoryMiB: z.number().int().min(24).max(65536).optional(),
  restart: restartPolicySchema.optional(),
}).strict()

export type MetricsSection = z.infer<typeof metricsSchema>

/** What the metrics module gets as its config. */
export type MetricsConfig = Omit<MetricsSection, 'enabled' | 'memoryMiB' | 'restart'> & { gateway: string }
