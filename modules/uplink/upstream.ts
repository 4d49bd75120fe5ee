// The connection out to the upstream broker (mqtt.js): a fresh client per attempt, reconnecting after a delay
// drawn from [d × (1 − jitter), d] with d growing by `factor` up to `maxMs`, so a fleet that lost its upstream
// together comes back spread out. The Last Will marks the gateway offline, retained. Incoming packets larger
// than `maxPacketBytes` close the connection as soon as their fixed header announces them (mqtt.js has no such
// bound in MQTT 3.1.1): `onOversized` counts them.
import { readFileSync } from 'node:fs'
import mqtt from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import { packetGuard } from '../../core/protocol/packet-guard.js'

export interface Backoff { initialMs: number, maxMs: number, factor: number, jitter: number }

export interface UpstreamOptions {
  url: string
  clientId: string
  username?: string | undefined
  password?: string | undefined
  ca?: string | undefined
  cert?: string | undefined
  key?: string | undefined
  keepaliveSeconds: number
  will: { topic: string, payload: Buffer }
  /** subscribed (QoS 0) on every connection, before onConnect runs */
  subscriptions: string[]
  backoff: Backoff
  maxPacketBytes: number
  onConnect: () => void
  onClose: () => void
  onMessage: (topic: string, payload: Buffer) => void
  onOversized: () => void
  log: { info: (text: string) => void, warn: (text: string) => void }
}

export interface Upstream {
  readonly connected: boolean
  /** bytes written and not yet sent on the current connection */
  readonly backlogBytes: number
  /** QoS 1 calls back once acknowledged; false if not connected (nothing is queued in memory) */
  publish (topic: string, payload: Buffer, qos: 0 | 1, retain: boolean, acked?: (err?: Error) => void): boolean
  close (): Promise<void>
}

export function backoffDelay (attempt: number, b: Backoff, random = Math.random): number {
  const d = Math.min(b.maxMs, b.initialMs * b.factor ** attempt)
  return Math.round(d * (1 - b.jitter * random()))
}

export function connectUpstream (o: UpstreamOptions): Upstream {
  const tls: Partial<IClientOptions> = {}
  if (o.ca !== undefined) tls.ca = readFileSync(o.ca)
  if (o.cert !== undefined) tls.cert = readFileSync(o.cert)
  if (o.key !== undefined) tls.key = readFileSync(o.key)
  let client: MqttClient | undefined
  let connected = false
  let attempt = 0
  let timer: NodeJS.Timeout | undefined
  let closing = false

  const start = (): void => {
    timer = undefined
    const options: IClientOptions = {
      protocolVersion: 4,
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      keepalive: o.keepaliveSeconds,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: o.will.topic, payload: o.will.payload, qos: 1, retain: true },
      ...tls,
    }
    if (o.username !== undefined) options.username = o.username
    if (o.password !== undefined) options.password = o.password
    const c = mqtt.connect(o.url, options)
    client = c
    // on the socket from its first byte (mqtt.js made it in connect()), so that it reads packet by packet
    c.stream.on('data', packetGuard(o.maxPacketBytes, () => {
      o.onOversized()
      o.log.warn(`the upstream sent a packet over ${o.maxPacketBytes} bytes: connection closed`)
      c.stream.destroy()
    }))
    let ended = false
    c.on('connect', () => {
      connected = true
      attempt = 0
      o.log.info(`connected to ${o.url} as ${o.clientId}`)
      if (o.subscriptions.length > 0) c.subscribe(o.subscriptions, { qos: 0 }, err => { if (err) o.log.warn(`subscribe upstream: ${err.message}`) })
      o.onConnect()
    })
    c.on('message', (topic, payload) => o.onMessage(topic, payload))
    c.on('error', err => o.log.warn(`upstream ${o.url}: ${err.message}`))
    c.on('close', () => {
      if (ended) return
      ended = true
      const was = connected
      connected = false
      c.end(true)
      if (was) o.onClose()
      if (closing) return
      const delay = backoffDelay(attempt++, o.backoff)
      if (was) o.log.warn(`lost ${o.url}; reconnecting in ${delay} ms`)
      timer = setTimeout(start, delay)
    })
  }
  start()

  return {
    get connected () { return connected },
    get backlogBytes () { return client?.stream?.writableLength ?? 0 },
    publish (topic, payload, qos, retain, acked) {
      if (!connected || client === undefined) return false
      client.publish(topic, payload, { qos, retain }, acked === undefined ? undefined : err => acked(err ?? undefined)) // mqtt.js passes null on success
      return true
    },
    async close () {
      closing = true
      if (timer !== undefined) clearTimeout(timer)
      if (client !== undefined && connected) await client.endAsync().catch(() => {})
      else client?.end(true)
    },
  }
}
