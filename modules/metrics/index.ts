// The metrics module (docs/observability.md): an HTTP endpoint, GET /metrics, in the Prometheus text format or
// OpenMetrics, from one snapshot of the core's counters (rpc/core/metrics). A snapshot serves every scrape
// for `cacheMs`, and scrapes that arrive while one is being fetched wait for it, so any number of scrapers
// costs the core at most one request per period. The HTTP server is bounded: connections at once, the size
// of a request's head, the time it may take (metrics-schema.ts METRICS_LIMITS).
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { OutpostError } from '../../core/errors.js'
import type { MetricsSnapshot } from '../../core/management/metrics.js'
import type { MetricsConfig } from '../../core/manifest/metrics-schema.js'
import { runModule } from '../../core/sdk/index.js'
import { CONTENT_TYPES, formatFor, render } from './exposition.js'
import type { Format } from './exposition.js'
import { families } from './families.js'

/** how long a scrape waits for the core's snapshot */
const CORE_TIMEOUT_MS = 5000
/** how often the server looks for requests past their time limits (Node's default is 30 s) */
const TIMEOUT_CHECK_MS = 500

runModule<MetricsConfig>(async (m) => {
  const c = m.config
  let cached: { at: number, snapshot: MetricsSnapshot, text: Partial<Record<Format, string>> } | undefined
  let fetching: Promise<NonNullable<typeof cached>> | undefined

  const current = async (): Promise<NonNullable<typeof cached>> => {
    if (cached !== undefined && performance.now() - cached.at < c.cacheMs) return cached
    fetching ??= m.call<MetricsSnapshot>('core', 'metrics', undefined, { timeout: CORE_TIMEOUT_MS })
      .then(snapshot => (cached = { at: performance.now(), snapshot, text: {} }))
      .finally(() => { fetching = undefined })
    return await fetching
  }

  const answer = (res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void => {
    // an error closes the connection: whatever the client sent after its head is not read
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), Connection: 'close', ...headers })
    res.end(text)
  }

  const server = http.createServer({
    maxHeaderSize: c.limits.maxHeaderBytes,
    headersTimeout: c.limits.headersTimeoutMs,
    requestTimeout: c.limits.headersTimeoutMs, // the head is the whole request
    keepAliveTimeout: c.limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== '/metrics') return answer(res, 404, 'not found: this endpoint serves GET /metrics only\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, `method ${req.method ?? ''} not allowed: GET /metrics\n`, { Allow: 'GET, HEAD' })
    // a scrape has no body; one announced is refused rather than read
    const length = req.headers['content-length']
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return answer(res, 413, 'a scrape has no body\n')
    const format = formatFor(req.headers.accept)
    current().then(snapshot => {
      const text = snapshot.text[format] ??= render(families(snapshot.snapshot), format)
      if (res.destroyed) return
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[format], 'Content-Length': Buffer.byteLength(text), Vary: 'Accept' })
      res.end(req.method === 'HEAD' ? undefined : text)
    }, (err: Error) => {
      m.log.warn(`metrics: the core's snapshot failed: ${err.message}`)
      if (!res.destroyed) answer(res, 503, `the gateway's core did not answer: ${err.message}\n`)
    })
  })
  // past it, Node closes new connections as soon as they are accepted
  server.maxConnections = c.limits.maxConnections

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new OutpostError('METRICS_LISTEN', `metrics: cannot listen on ${c.host}:${c.port}: ${err.message}`, { cause: err })))
    server.listen(c.port, c.host, () => resolve())
  })
  m.log.info(`metrics: serving http://${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}/metrics`)

  m.onStop(async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  await m.start()
})
