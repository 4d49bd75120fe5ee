// A thin MQTT 3.1.1 client for module processes, on mqtt-packet (the parser mqtt.js itself uses).
// mqtt.js loads ws, socks, tls and its reconnect machinery even for a local socket, which costs a module
// ≈ 7 MB of private memory; a module needs only: connect once (no reconnect — the core restarts a module
// that lost the broker), subscribe, publish QoS 0/1, keepalive. Writes issued in the same tick are
// coalesced into one system call (cork/uncork), which is where a broker round trip spends its time.
import net from 'node:net'
import { EventEmitter } from 'node:events'
import mqttPacket from 'mqtt-packet'
import type { Packet, IPublishPacket, IConnackPacket, ISubackPacket } from 'mqtt-packet'
import { OutpostError } from '../errors.js'

export interface Will {
  topic: string
  payload: Buffer
  retain: boolean
  qos: 0 | 1
}

export interface ClientOptions {
  /** `unix:/path/to/socket` or `mqtt://host:port` */
  url: string
  clientId: string
  username?: string
  password?: string
  keepaliveSeconds: number
  will?: Will
  connectTimeoutMs?: number
}

export type MessageHandler = (topic: string, payload: Buffer) => void

export interface MqttClient {
  publish (topic: string, payload: Buffer, options?: { retain?: boolean, qos?: 0 | 1 }): Promise<void>
  subscribe (filters: string[]): Promise<void>
  onMessage (handler: MessageHandler): void
  /** 'close' fires once, with the reason the connection ended */
  events: EventEmitter
  end (): Promise<void>
}

const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
}

export function parseBrokerUrl (url: string): net.NetConnectOpts {
  if (url.startsWith('unix:')) return { path: url.slice('unix:'.length).replace(/^\/\//, '') }
  const parsed = new URL(url)
  if (parsed.protocol !== 'mqtt:' && parsed.protocol !== 'tcp:') {
    throw new OutpostError('NOT_CONNECTED', `broker URL ${url}: expected unix:/path or mqtt://host:port`)
  }
  return { host: parsed.hostname, port: Number(parsed.port || 1883) }
}

/** Encodes a PUBLISH by hand: on the hot path this avoids mqtt-packet's generic generator. */
function encodePublish (topic: string, payload: Buffer, retain: boolean, qos: 0 | 1, messageId: number): Buffer {
  const topicLength = Buffer.byteLength(topic)
  const remaining = 2 + topicLength + (qos === 1 ? 2 : 0) + payload.length
  let lengthBytes = 1
  for (let n = remaining; n > 127; n = Math.floor(n / 128)) lengthBytes++
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining)
  out[0] = 0x30 | (qos << 1) | (retain ? 1 : 0)
  let offset = 1
  let n = remaining
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out[offset++] = byte
  } while (n > 0)
  out.writeUInt16BE(topicLength, offset)
  offset += 2
  offset += out.write(topic, offset)
  if (qos === 1) {
    out.writeUInt16BE(messageId, offset)
    offset += 2
  }
  payload.copy(out, offset)
  return out
}

export function connectMqtt (options: ClientOptions): Promise<MqttClient> {
  const socket = net.connect(parseBrokerUrl(options.url))
  socket.setNoDelay(true)
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const events = new EventEmitter()
  const pending = new Map<number, { resolve: () => void, reject: (err: Error) => void }>()
  let handler: MessageHandler = () => {}
  let nextMessageId = 1
  let corked = false
  let closed = false
  let pingTimer: NodeJS.Timeout | undefined

  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  const write = (bytes: Buffer): void => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    socket.write(bytes)
  }
  const takeMessageId = (): number => {
    const id = nextMessageId
    nextMessageId = nextMessageId === 0xffff ? 1 : nextMessageId + 1
    return id
  }

  const close = (reason: string): void => {
    if (closed) return
    closed = true
    clearInterval(pingTimer)
    const err = new OutpostError('NOT_CONNECTED', `connection to broker closed: ${reason}`)
    for (const waiter of pending.values()) waiter.reject(err)
    pending.clear()
    socket.destroy()
    events.emit('close', reason)
  }

  const client: MqttClient = {
    events,
    onMessage (h) { handler = h },
    publish (topic, payload, { retain = false, qos = 0 } = {}) {
      if (closed) return Promise.reject(new OutpostError('NOT_CONNECTED', 'not connected to the broker'))
      if (qos === 0) {
        write(encodePublish(topic, payload, retain, 0, 0))
        return Promise.resolve()
      }
      const messageId = takeMessageId()
      return new Promise<void>((resolve, reject) => {
        pending.set(messageId, { resolve, reject })
        write(encodePublish(topic, payload, retain, 1, messageId))
      })
    },
    subscribe (filters) {
      if (closed) return Promise.reject(new OutpostError('NOT_CONNECTED', 'not connected to the broker'))
      const messageId = takeMessageId()
      return new Promise<void>((resolve, reject) => {
        pending.set(messageId, { resolve, reject })
        write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: filters.map(topic => ({ topic, qos: 0 })) }))
      }).then(() => {}, (err: Error) => {
        throw new OutpostError(err instanceof OutpostError ? err.code : 'NOT_AUTHORISED', `subscribe ${filters.join(', ')}: ${err.message}`)
      })
    },
    end () {
      if (closed) return Promise.resolve()
      return new Promise(resolve => {
        socket.end(mqttPacket.generate({ cmd: 'disconnect' }), () => {
          close('client disconnected')
          resolve()
        })
      })
    },
  }

  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      reject(new OutpostError('NOT_CONNECTED', `no CONNACK from ${options.url} within ${options.connectTimeoutMs ?? 5000} ms`))
      close('connect timeout')
    }, options.connectTimeoutMs ?? 5000)

    socket.on('connect', () => {
      const connect: Packet = {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: options.clientId,
        clean: true,
        keepalive: options.keepaliveSeconds,
      }
      if (options.username !== undefined) connect.username = options.username
      if (options.password !== undefined) connect.password = Buffer.from(options.password)
      if (options.will) connect.will = { ...options.will }
      write(mqttPacket.generate(connect))
    })
    socket.on('data', (chunk: Buffer) => { parser.parse(chunk) })
    socket.on('error', (err) => {
      clearTimeout(timeout)
      reject(new OutpostError('NOT_CONNECTED', `cannot reach broker at ${options.url}: ${err.message}`, { cause: err }))
      close(err.message)
    })
    socket.on('close', () => { close('socket closed') })
    parser.on('error', (err: Error) => close(`protocol error: ${err.message}`))

    parser.on('packet', (packet: Packet) => {
      switch (packet.cmd) {
        case 'publish': {
          const publish = packet as IPublishPacket
          if (publish.qos === 1 && publish.messageId !== undefined) write(mqttPacket.generate({ cmd: 'puback', messageId: publish.messageId }))
          handler(publish.topic, publish.payload as Buffer)
          break
        }
        case 'connack': {
          clearTimeout(timeout)
          const code = (packet as IConnackPacket).returnCode ?? 0
          if (code !== 0) {
            const reason = CONNACK_REASONS[code] ?? `return code ${code}`
            reject(new OutpostError(code === 4 || code === 5 ? 'NOT_AUTHORISED' : 'NOT_CONNECTED', `broker refused connection: ${reason}`))
            close(reason)
            return
          }
          if (options.keepaliveSeconds > 0) {
            pingTimer = setInterval(() => write(mqttPacket.generate({ cmd: 'pingreq' })), options.keepaliveSeconds * 1000 * 0.75)
            pingTimer.unref()
          }
          resolve(client)
          break
        }
        case 'suback': {
          const suback = packet as ISubackPacket
          const waiter = pending.get(suback.messageId ?? 0)
          pending.delete(suback.messageId ?? 0)
          if (waiter === undefined) return
          // [MQTT-3.9.3-2] 0x80 in a SUBACK means the subscription was refused
          if (suback.granted.some(g => g === 0x80 || (typeof g === 'object' && g !== null))) waiter.reject(new Error('refused by the broker'))
          else waiter.resolve()
          break
        }
        case 'puback': {
          const messageId = packet.messageId ?? 0
          pending.get(messageId)?.resolve()
          pending.delete(messageId)
          break
        }
        default:
          break
      }
    })
  })
}
