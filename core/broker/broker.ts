// The embedded Aedes broker and its listeners. This file is the one adapter between Aedes's callback hooks
// and Outpost's access rules (access.ts) and RPC dispatch (dispatch hooks): the rest of the core sees plain
// functions. Broker hooks run on every message, so everything here is synchronous and cheap.
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync, rmSync, chmodSync } from 'node:fs'
import { Aedes } from 'aedes'
import type { Client, AedesPublishPacket, AuthenticateError } from 'aedes'
import { OutpostError } from '../errors.js'
import { canPublish, canSubscribe, describe } from './access.js'
import type { Identity } from './access.js'

export type ListenerConfig =
  | { type: 'tcp', host: string, port: number, anonymous?: boolean }
  | { type: 'tls', host: string, port: number, cert: string, key: string, ca?: string, requireClientCert?: boolean }
  | { type: 'unix', path: string, anonymous?: boolean }

export interface BoundListener {
  config: ListenerConfig
  /** URL a client uses: mqtt://host:port, mqtts://host:port or unix:/path */
  url: string
}

export interface Authenticator {
  /** Returns who the client is, or a reason for refusing it. */
  authenticate (request: { clientId: string, username: string | undefined, password: string | undefined, listener: ListenerConfig }): Identity | { refused: 'bad-credentials' | 'not-authorised', why: string }
}

export interface BrokerHooks {
  /** Picks, for a packet going to several subscribers, whether this client gets it (RPC to replicas). */
  forward?: (identity: Identity | undefined, packet: AedesPublishPacket) => boolean
  /** Sees every publish the access rules allowed, before delivery. */
  published?: (identity: Identity, topic: string, payload: Buffer) => void
  onDenied?: (event: { identity: Identity | undefined, clientId: string, action: 'publish' | 'subscribe' | 'connect', what: string, why: string }) => void
  onClientReady?: (clientId: string, identity: Identity) => void
  onClientGone?: (clientId: string, identity: Identity, reason: 'disconnect' | 'keepalive-timeout' | 'error') => void
}

export interface BrokerOptions {
  moduleSocket: string
  listeners: ListenerConfig[]
  authenticator: Authenticator
  hooks?: BrokerHooks
  /** one stuck subscriber holds shared delivery slots until this: keep it short on a gateway */
  drainTimeoutMs?: number
  concurrency?: number
}

export interface Broker {
  aedes: Aedes
  moduleUrl: string
  listeners: BoundListener[]
  identityOf (client: Client): Identity | undefined
  close (): Promise<void>
}

// Batches the broker's writes to one socket within a loop turn into one writev: Aedes writes every
// outgoing packet on its own, and the system call, not the MQTT encoding, is where a fan-out spends time.
function batchWrites (socket: net.Socket): net.Socket {
  const write = socket.write
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  socket.write = function batchedWrite (this: net.Socket, ...args: any[]) {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(uncork)
    }
    return (write as (...a: any[]) => boolean).apply(this, args)
  } as typeof socket.write
  return socket
}

function listen (server: net.Server, config: ListenerConfig): Promise<BoundListener> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      const where = config.type === 'unix' ? config.path : `${config.host}:${config.port}`
      reject(new OutpostError('BROKER_LISTEN', `broker cannot listen on ${config.type} ${where}: ${err.message}`, { cause: err }))
    }
    server.once('error', onError)
    const done = (): void => {
      server.off('error', onError)
      if (config.type === 'unix') {
        chmodSync(config.path, 0o660)
        resolve({ config, url: `unix:${config.path}` })
        return
      }
      const address = server.address() as net.AddressInfo
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
      resolve({ config: { ...config, port: address.port }, url: `${config.type === 'tls' ? 'mqtts' : 'mqtt'}://${host}:${address.port}` })
    }
    if (config.type === 'unix') {
      rmSync(config.path, { force: true })
      server.listen(config.path, done)
    } else server.listen(config.port, config.host, done)
  })
}

export async function startBroker (options: BrokerOptions): Promise<Broker> {
  const identities = new WeakMap<Client, Identity>()
  const hooks = options.hooks ?? {}
  const aedes = await Aedes.createBroker({
    drainTimeout: options.drainTimeoutMs ?? 5000,
    concurrency: options.concurrency ?? 200,
    connectTimeout: 5000,
    keepaliveLimit: 0,
  })

  const deny = (client: Client | null, action: 'publish' | 'subscribe' | 'connect', what: string, why: string): void => {
    const identity = client === null ? undefined : identities.get(client)
    hooks.onDenied?.({ identity, clientId: client?.id ?? '', action, what, why })
  }

  aedes.authenticate = (client, username, password, callback) => {
    const listener = (client.conn as unknown as { outpostListener?: ListenerConfig }).outpostListener
    if (listener === undefined) {
      callback(Object.assign(new Error('unknown listener'), { returnCode: 3 }) as AuthenticateError, false)
      return
    }
    const result = options.authenticator.authenticate({ clientId: client.id, username, password: password?.toString('utf8'), listener })
    if ('refused' in result) {
      deny(client, 'connect', client.id, result.why)
      callback(Object.assign(new Error(result.why), { returnCode: result.refused === 'bad-credentials' ? 4 : 5 }) as AuthenticateError, false)
      return
    }
    identities.set(client, result)
    callback(null, true)
  }

  aedes.authorizePublish = (client, packet, callback) => {
    if (client === null) return callback(null) // a will published after its client is gone was checked at connect
    const identity = identities.get(client)
    if (identity !== undefined && canPublish(identity, packet.topic)) {
      hooks.published?.(identity, packet.topic, packet.payload as Buffer)
      return callback(null)
    }
    const why = identity === undefined ? 'not authenticated' : `${describe(identity)} may not publish here`
    deny(client, 'publish', packet.topic, why)
    // MQTT 3.1.1 has no negative acknowledgement for PUBLISH: the offender is disconnected.
    callback(new Error(`publish to ${packet.topic} denied: ${why}`))
  }

  aedes.authorizeSubscribe = (client, subscription, callback) => {
    const identity = identities.get(client)
    if (identity !== undefined && canSubscribe(identity, subscription.topic)) return callback(null, subscription)
    deny(client, 'subscribe', subscription.topic, identity === undefined ? 'not authenticated' : `${describe(identity)} may not subscribe here`)
    callback(null, null) // SUBACK 0x80 [MQTT-3.9.3-2]
  }

  if (hooks.forward !== undefined) {
    const forward = hooks.forward
    aedes.authorizeForward = (client, packet) => (forward(identities.get(client), packet) ? packet : null)
  }

  aedes.on('clientReady', client => {
    const identity = identities.get(client)
    if (identity !== undefined) hooks.onClientReady?.(client.id, identity)
  })
  const gone = new WeakSet<Client>()
  const onGone = (reason: 'disconnect' | 'keepalive-timeout' | 'error') => (client: Client): void => {
    const identity = identities.get(client)
    if (identity === undefined || gone.has(client)) return
    gone.add(client)
    hooks.onClientGone?.(client.id, identity, reason)
  }
  aedes.on('keepaliveTimeout', onGone('keepalive-timeout'))
  aedes.on('clientError', onGone('error'))
  aedes.on('clientDisconnect', onGone('disconnect'))

  const servers: net.Server[] = []
  const serve = async (config: ListenerConfig): Promise<BoundListener> => {
    const accept = (socket: net.Socket): void => {
      (socket as unknown as { outpostListener: ListenerConfig }).outpostListener = config
      if (config.type !== 'tls') socket.setNoDelay(true)
      aedes.handle(batchWrites(socket))
    }
    const server = config.type === 'tls'
      ? tls.createServer({
        cert: readFileSync(config.cert),
        key: readFileSync(config.key),
        ...(config.ca === undefined ? {} : { ca: readFileSync(config.ca) }),
        requestCert: config.requireClientCert === true,
        rejectUnauthorized: config.requireClientCert === true,
      }, accept)
      : net.createServer(accept)
    servers.push(server)
    return listen(server, config)
  }

  try {
    const moduleListener = await serve({ type: 'unix', path: options.moduleSocket })
    const listeners: BoundListener[] = []
    for (const config of options.listeners) listeners.push(await serve(config))
    return {
      aedes,
      moduleUrl: moduleListener.url,
      listeners,
      identityOf: client => identities.get(client),
      close: () => closeAll(aedes, servers),
    }
  } catch (err) {
    await closeAll(aedes, servers)
    throw err
  }
}

async function closeAll (aedes: Aedes, servers: net.Server[]): Promise<void> {
  await new Promise<void>(resolve => aedes.close(() => resolve()))
  await Promise.all(servers.map(server => new Promise<void>(resolve => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
  })))
}
