// The CLI's connection to a gateway: mqtt.js over MQTT 3.1.1 (the CLI is not a module process, so its
// weight does not matter), calls as docs/protocol.md describes them, and every way a connection can fail
// turned into one sentence that says what to do.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IClientOptions, MqttClient } from 'mqtt'
import { OutpostError } from '../errors.js'
import { decodeCbor, encodeCbor } from '../protocol/codec.js'
import { checkReply, fromErrorBody } from '../protocol/envelope.js'
import { packetGuard } from '../protocol/packet-guard.js'
import type { ConnectionOptions } from './options.js'

export interface Session {
  clientId: string
  /**
   * true when `subscribe` sees the gateway's own bus (every hook as it happens); through a fleet's upstream
   * it sees only what the uplink forwards, so a follow polls instead (`outpost logs -f`)
   */
  localBus: boolean
  /** calls `<module>.<method>`; rejects with the gateway's error (an OutpostError with its code) */
  call<T = unknown> (module: string, method: string, args?: unknown): Promise<T>
  subscribe (filters: string[], onMessage: (topic: string, payload: Buffer) => void): Promise<void>
  /** resolves when the connection ends for any reason other than end() */
  closed: Promise<OutpostError>
  end (): Promise<void>
}

function readOption (file: string | undefined, what: string): Buffer | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch (err) {
    throw new OutpostError('GATEWAY_UNREACHABLE', `cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function clientOptions (c: ConnectionOptions, clientId: string): IClientOptions {
  const options: IClientOptions = {
    protocolVersion: 4,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: Math.min(c.timeoutMs, 10_000),
    keepalive: 30,
  }
  if (c.user !== undefined) options.username = c.user
  if (c.password !== undefined) options.password = c.password
  const ca = readOption(c.ca, 'CA certificate')
  const cert = readOption(c.cert, 'client certificate')
  const key = readOption(c.key, 'client key')
  if (ca !== undefined) options.ca = ca
  if (cert !== undefined) options.cert = cert
  if (key !== undefined) options.key = key
  if (c.insecure) options.rejectUnauthorized = false
  if (c.url.startsWith('unix:')) Object.assign(options, { protocol: 'mqtt', unixSocket: true, path: c.url.slice('unix:'.length).replace(/^\/\//, '') })
  return options
}

/** what the CLI connects to: a gateway's listener (--url), or a fleet's upstream broker (--via) */
export type Peer = 'gateway' | 'upstream'

const CONNACK: Record<Peer, Record<number, string>> = {
  gateway: {
    3: 'the gateway is unavailable: its listener has as many clients as it allows',
    4: 'user name or password refused',
    5: 'not authorised: anonymous access is off on this listener (give --user and a password)',
  },
  // Mosquitto answers a wrong password with 5 in MQTT 3.1.1, other brokers with 4
  upstream: {
    3: 'the upstream broker is unavailable',
    4: 'the upstream broker refused the login (user name or password)',
    5: 'the upstream broker refused the login (user name, password or client certificate)',
  },
}

/**
 * The most the CLI reads in one incoming packet (remaining length): a packet announcing more closes the
 * connection from its first bytes, whatever the gateway or a fleet's upstream sends. The largest a gateway
 * answers is `logs`: at most 2 Mi characters of line text (management/log-store.ts MAX_TAIL_CHARS).
 */
export const MAX_INCOMING_PACKET_BYTES = 16 * 1024 * 1024

/** one sentence for a failed connection, and whether it is about credentials */
export function explainConnectError (err: Error & { code?: unknown }, url: string, peer: Peer = 'gateway'): OutpostError {
  if (err instanceof OutpostError) return err // the CLI's own reason (a packet over the bound)
  const code = err.code
  const refused = typeof code === 'number' ? CONNACK[peer][code] : undefined
  if (refused !== undefined) return new OutpostError(code === 3 ? 'GATEWAY_UNREACHABLE' : 'NOT_AUTHORISED', `${url}: ${refused}`)
  const text = typeof code === 'string' ? code : ''
  const running = peer === 'gateway' ? 'is the gateway running, and is --url right?' : 'is the upstream broker running, and is --via right?'
  let hint = err.message
  if (text === 'ECONNREFUSED') hint = `connection refused (${running})`
  else if (text === 'ENOENT') hint = `no such socket (${running})`
  else if (text === 'ENOTFOUND' || text === 'EAI_AGAIN') hint = 'unknown host name'
  else if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ALERT|ECONNRESET/.test(text)) hint = `the TLS handshake was refused (${text}): does the listener require a client certificate (--cert, --key)?`
  else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(text)) hint = `the ${peer === 'gateway' ? 'gateway' : 'upstream broker'}'s TLS certificate is not trusted (${err.message.split('\n')[0]}): give --ca <file>`
  return new OutpostError('GATEWAY_UNREACHABLE', `cannot connect to ${url}: ${hint}`)
}

export function newClientId (): string {
  return `outpost-${randomBytes(4).toString('hex')}`
}

export interface Connection {
  client: MqttClient
  /**
   * resolves when the connection closes, by end() or not: with the reason when the CLI closed it itself (a
   * packet over MAX_INCOMING_PACKET_BYTES), else undefined
   */
  closed: Promise<OutpostError | undefined>
  /**
   * listens to incoming messages: what `handler` throws (a value from the wire it could not take) closes the
   * connection, and `closed` gives the reason (BAD_REPLY), instead of escaping into mqtt.js as an uncaught
   * error, a stack trace. Every message listener of the CLI is added through here.
   */
  onMessage (handler: (topic: string, payload: Buffer) => void): void
}

/** an MQTT 3.1.1 connection with the command line's options, or the one sentence that says why not */
export async function openClient (c: ConnectionOptions, clientId: string, peer: Peer): Promise<Connection> {
  const options = clientOptions(c, clientId)
  let refused: OutpostError | undefined
  // loaded here, not with this file: `outpost run`, the gateway itself, is this program too and never connects
  const { default: mqtt } = await import('mqtt')
  const client: MqttClient = await new Promise((resolve, reject) => {
    const target = c.url.startsWith('unix:') ? mqtt.connect(options) : mqtt.connect(c.url, options)
    // on the socket from its first byte (mqtt.js made it in connect()), so that it reads packet by packet
    target.stream.on('data', packetGuard(MAX_INCOMING_PACKET_BYTES, announced => {
      refused = new OutpostError('GATEWAY_UNREACHABLE', `${c.url}: the ${peer === 'gateway' ? 'gateway' : 'upstream broker'} sent a packet of ${Number.isFinite(announced) ? `${announced} bytes` : 'a malformed length'}, more than the CLI reads (${MAX_INCOMING_PACKET_BYTES} bytes): connection closed`)
      target.stream.destroy(refused)
    }))
    let last: Error | undefined
    const onError = (err: Error): void => { last = err }
    const onClose = (): void => fail(explainConnectError(last ?? new Error(`the ${peer === 'gateway' ? 'gateway' : 'upstream broker'} closed the connection`), c.url, peer))
    const timer = setTimeout(() => fail(new OutpostError('GATEWAY_UNREACHABLE', `cannot connect to ${c.url}: no answer within ${options.connectTimeout} ms`)), options.connectTimeout)
    const settle = (): void => {
      clearTimeout(timer)
      target.off('error', onError)
      target.off('close', onClose)
    }
    const fail = (err: OutpostError): void => {
      settle()
      target.on('error', () => {})
      target.end(true)
      reject(err)
    }
    target.once('connect', () => {
      settle()
      resolve(target)
    })
    target.on('error', onError)
    target.on('close', onClose)
  })
  client.on('error', () => {}) // the 'close' event says what matters
  const onMessage = (handler: (topic: string, payload: Buffer) => void): void => {
    client.on('message', (topic, payload) => {
      try {
        handler(topic, payload)
      } catch (err) {
        refused ??= new OutpostError('BAD_REPLY', `${c.url}: a message on ${topic} could not be read (${(err as Error).message}): connection closed`)
        client.stream.destroy()
      }
    })
  }
  return { client, closed: new Promise(resolve => client.once('close', () => resolve(refused))), onMessage }
}

/** a session with one gateway: directly (--url), or through a fleet's upstream broker (--via, fleet-session.ts) */
export async function connect (c: ConnectionOptions): Promise<Session> {
  if (c.fleet !== undefined) {
    const { connectThroughFleet } = await import('./fleet-session.js') // loaded only with --via; it uses openClient above
    return connectThroughFleet(c, c.fleet)
  }
  const clientId = newClientId()
  const { client, closed: ended, onMessage } = await openClient(c, clientId, 'gateway')
  const replyTopic = `reply/${clientId}`
  const waiting = new Map<number, { resolve: (value: any) => void, reject: (err: Error) => void, what: string }>()
  let ending = false
  let nextId = 1
  const closed = new Promise<OutpostError>(resolve => {
    void ended.then(refused => {
      if (ending) return
      for (const { reject, what } of waiting.values()) {
        // MQTT 3.1.1 cannot refuse one PUBLISH: the broker closes the connection of a client that publishes
        // where it may not (a viewer asking for a change) or breaks a limit
        reject(refused ?? new OutpostError('NOT_AUTHORISED', `the gateway closed the connection instead of answering ${what}: this user may not do that (or the gateway stopped)`))
      }
      waiting.clear()
      resolve(refused ?? new OutpostError('GATEWAY_UNREACHABLE', `the connection to ${c.url} was lost`))
    })
  })
  onMessage((topic, payload) => {
    if (topic !== replyTopic) return
    let reply
    try {
      reply = checkReply(decodeCbor(payload))
    } catch {
      return
    }
    if (!reply.ok) return
    const id = reply.reply.id as number
    const pending = waiting.get(id)
    if (pending === undefined) return
    waiting.delete(id)
    if ('error' in reply.reply) pending.reject(fromErrorBody(reply.reply.error, pending.what))
    else pending.resolve(reply.reply.result)
  })
  const granted = await client.subscribeAsync(replyTopic)
  if (granted.some(g => g.qos === 128)) throw new OutpostError('NOT_AUTHORISED', `the gateway refused the subscription to ${replyTopic}`)

  return {
    clientId,
    localBus: true,
    closed,
    call (module, method, args = null) {
      const id = nextId++
      const what = `${module}.${method}`
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new OutpostError('TIMEOUT', `${what}: no reply within ${c.timeoutMs} ms`))
        }, c.timeoutMs)
        waiting.set(id, {
          what,
          resolve: value => { clearTimeout(timer); resolve(value) },
          reject: err => { clearTimeout(timer); reject(err) },
        })
        client.publish(`rpc/${module}/${method}`, encodeCbor({ id, reply: replyTopic, args, from: clientId, timeout: c.timeoutMs }))
      })
    },
    async subscribe (filters, listener) {
      onMessage((topic, payload) => { if (topic !== replyTopic) listener(topic, payload) })
      const result = await client.subscribeAsync(filters)
      const refused = result.filter(g => g.qos === 128).map(g => g.topic)
      if (refused.length > 0) throw new OutpostError('NOT_AUTHORISED', `the gateway refused the subscription to ${refused.join(', ')}`)
    },
    async end () {
      ending = true
      for (const { reject, what } of waiting.values()) reject(new OutpostError('GATEWAY_UNREACHABLE', `${what}: the session ended before the reply`))
      waiting.clear()
      await client.endAsync()
    },
  }
}
