// MQTT over WebSocket (MQTT 3.1.1 section 6), for browsers: an HTTP(S) server that takes only the WebSocket
// upgrade on one path, and hands each WebSocket, as a byte stream, to the broker's one connection handler
// (broker.ts `serve`): the same authentication, access rules, limits and reader as a TCP connection.
// `ws` (≈ 1 MB of the core's memory with node:http) is loaded only when a manifest has a ws listener.
//
// The upgrade itself is bounded before any MQTT byte is read: the TCP connection counts against the
// listener's pending limits from the moment it is accepted (over TLS, before its handshake), must finish its
// handshake within the connect timeout, offer the "mqtt" subprotocol [MQTT-6.0.0-3], come from a listed Origin
// when `origins` is set, and send WebSocket messages no larger than the packets the listener takes at that
// moment (maxConnectBytes before the CONNACK, maxPacketBytes after). Only binary frames carry MQTT
// [MQTT-6.0.0-1]: a text frame closes the connection. Compression (permessage-deflate) is off: a small frame
// could inflate to a large one.
import type http from 'node:http'
import type net from 'node:net'
import { readFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { slotsAcrossHandshake } from './handshake-slots.js'
import type { ListenerLimits, PendingSlot } from './limits.js'

export interface WebSocketListenerConfig {
  type: 'ws'
  host: string
  port: number
  /** the HTTP path of the upgrade (default /mqtt) */
  path?: string
  /** PEM files: with both, the listener is wss:// */
  cert?: string
  key?: string
  /** when set, a handshake whose Origin header is not one of these is refused (403) */
  origins?: string[]
}

export interface WebSocketServing {
  config: WebSocketListenerConfig
  limits: ListenerLimits
  connectTimeoutMs: number
  /** a TCP connection arrived: a function to call once when it stops waiting, or null when it was refused (and destroyed) */
  enter (socket: net.Socket): PendingSlot | null
  /** hands an upgraded connection to the broker; `loggedIn` runs when its client is authenticated */
  handle (stream: net.Socket, slot: PendingSlot, loggedIn: () => void): void
  /** a handshake was refused (the broker logs one line per episode) */
  refused (address: string | undefined, why: string): void
}

/** the MQTT over WebSocket subprotocol name for MQTT 3.1.1 [MQTT-6.0.0-3], [MQTT-6.0.0-4] */
const SUBPROTOCOL = 'mqtt'

export async function createWebSocketServer (serving: WebSocketServing): Promise<net.Server> {
  const { config, limits, connectTimeoutMs } = serving
  const { WebSocketServer, createWebSocketStream } = await import('ws')
  const path = config.path ?? '/mqtt'
  const secure = config.cert !== undefined && config.key !== undefined
  const timeouts = { headersTimeout: connectTimeoutMs, requestTimeout: connectTimeoutMs, maxHeaderSize: 8192 }
  const server: http.Server = secure
    ? (await import('node:https')).createServer({ ...timeouts, cert: readFileSync(config.cert as string), key: readFileSync(config.key as string) })
    : (await import('node:http')).createServer(timeouts)
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxConnectBytes, perMessageDeflate: false, clientTracking: false, handleProtocols: () => SUBPROTOCOL })

  // each connection not yet upgraded: its pending gate's release, and the timer that closes it if its
  // upgrade does not come within the connect timeout (Aedes's own connect timeout starts after it)
  const arrived = new WeakMap<net.Socket, { waiting: PendingSlot, timer: NodeJS.Timeout }>()
  // over TLS, the slot is taken when the TCP connection arrives, so handshakes that never end are evicted too
  const afterHandshake = secure ? slotsAcrossHandshake(server, serving.enter, connectTimeoutMs) : undefined
  server.on(secure ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    const waiting = afterHandshake === undefined ? serving.enter(socket) : afterHandshake(socket)
    if (waiting === undefined) {
      socket.destroy() // its TCP connection was evicted, or closed, during the handshake
      return
    }
    if (waiting === null) return
    const timer = setTimeout(() => socket.destroy(), connectTimeoutMs)
    arrived.set(socket, { waiting, timer })
    socket.once('close', () => {
      clearTimeout(timer)
      waiting.leave()
    })
  })

  // anything but the upgrade: this server serves no pages
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close', Upgrade: 'websocket' })
    res.end(`MQTT over WebSocket only: connect to ${path} with the "${SUBPROTOCOL}" subprotocol\n`)
  })

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const raw = socket as net.Socket
    const known = arrived.get(raw)
    const problem = handshakeProblem(req, path, config.origins)
    if (known === undefined || problem !== null) {
      if (problem !== null) serving.refused(raw.remoteAddress, problem.why)
      raw.end(`HTTP/1.1 ${problem?.status ?? 503} ${problem?.reason ?? 'Service Unavailable'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    clearTimeout(known.timer)
    wss.handleUpgrade(req, raw, head, (ws: WebSocket) => {
      let stream: Duplex | undefined
      // added before the stream's own listener, so a text frame never reaches the broker [MQTT-6.0.0-1]
      ws.on('message', (_data, isBinary) => {
        if (!isBinary) stream?.destroy()
      })
      stream = createWebSocketStream(ws)
      // the broker reads a connection's address where a socket has it (login throttle)
      Object.defineProperty(stream, 'remoteAddress', { value: raw.remoteAddress })
      serving.handle(stream as unknown as net.Socket, known.waiting, () => setMaxPayload(ws, limits.maxPacketBytes))
    })
  })
  return server
}

function handshakeProblem (req: http.IncomingMessage, path: string, origins: string[] | undefined): { status: number, reason: string, why: string } | null {
  const url = req.url ?? ''
  const query = url.indexOf('?')
  if ((query < 0 ? url : url.slice(0, query)) !== path) return { status: 404, reason: 'Not Found', why: `a WebSocket upgrade on ${url.slice(0, 200)}, not ${path}` }
  const origin = req.headers.origin
  // browsers always send Origin; a client that is not a browser may leave it out
  if (origins !== undefined && origin !== undefined && !origins.includes(origin)) return { status: 403, reason: 'Forbidden', why: `a WebSocket upgrade from the origin ${origin.slice(0, 200)}, which the listener's origins do not list` }
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map(p => p.trim())
  if (!offered.includes(SUBPROTOCOL)) return { status: 400, reason: 'Bad Request', why: `a WebSocket upgrade without the "${SUBPROTOCOL}" subprotocol [MQTT-6.0.0-3]` }
  return null
}

/**
 * ws takes one maximum message size per server; a connection's grows once its client has logged in, from
 * maxConnectBytes to maxPacketBytes, as the reader's does. The field is ws's own (pinned in package.json);
 * test/core/ws-listener.test.ts pins both sizes.
 */
function setMaxPayload (ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver
  if (receiver === undefined || typeof receiver._maxPayload !== 'number') throw new Error('ws has no receiver._maxPayload: the WebSocket listener needs the ws version pinned in package.json')
  receiver._maxPayload = bytes
}
