// dashboard module: serves the dashboard's static files over HTTP(S), bounded — a few known files, GET and
// HEAD only, timeouts on headers and requests, a cap on connections. The files hold no data and need no
// login: the page logs in to the broker's WebSocket listener with an operator's name and password, and the
// broker decides what that operator may see and do (docs/observability.md, "Dashboard").
import { readFileSync } from 'node:fs'
import type http from 'node:http'
import type net from 'node:net'
import { runModule } from '../../core/sdk/index.js'
import { dashboardFiles, file } from './files.js'
import type { Config } from './schema.js'

/** slow clients give up their connection: a page is a few small files */
const HEADERS_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 10_000
const KEEP_ALIVE_MS = 5_000

function headers (config: Config, type: string): Record<string, string> {
  const connect = config.broker.url === undefined ? 'ws: wss:' : new URL(config.broker.url).origin
  return {
    'Content-Type': type,
    // scripts, styles and connections from this server only, and WebSockets to the broker
    'Content-Security-Policy': `default-src 'self'; connect-src 'self' ${connect}; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
    Vary: 'Accept-Encoding',
  }
}

runModule<Config>(async (m) => {
  const config = m.config
  const files = dashboardFiles()
  // the page's one setting: where the broker's WebSocket listener is
  files.set('/config.json', file('application/json', Buffer.from(JSON.stringify({ broker: config.broker }))))
  const secure = config.cert !== undefined && config.key !== undefined
  // the timeouts are checked every second (node's default is every 30 s)
  const options = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS, maxHeaderSize: 8192, connectionsCheckingInterval: 1000 }
  const serve = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] as string
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain', 'X-Content-Type-Options': 'nosniff' }).end('GET or HEAD only\n')
      return
    }
    const found = files.get(path === '/index.html' ? '/' : path)
    if (found === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'X-Content-Type-Options': 'nosniff' }).end('not found\n')
      return
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
    const body = gzip ? found.gzip : found.body
    res.writeHead(200, { ...headers(config, found.type), 'Content-Length': String(body.length), ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
  const server: http.Server = secure
    ? (await import('node:https')).createServer({ ...options, cert: readFileSync(config.cert as string), key: readFileSync(config.key as string) }, serve)
    : (await import('node:http')).createServer(options, serve)
  server.maxConnections = config.maxConnections
  server.on('clientError', (_err, socket: net.Socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => resolve())
  })
  const address = server.address() as net.AddressInfo
  const url = `${secure ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`
  m.method('address', () => ({ url }))
  m.onStop(() => new Promise<void>(resolve => {
    server.close(() => resolve())
    server.closeAllConnections()
  }))
  await m.start()
  m.log.info(`dashboard on ${url} (broker: ${config.broker.url ?? `port ${config.broker.port}, path ${config.broker.path}`})`)
})
