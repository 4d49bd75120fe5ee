// A thin MQTT 3.1.1 client for module processes. mqtt.js loads ws, socks, tls and its reconnect machinery
// even for a local socket, which costs a module ≈ 7 MB of private memory; a module needs only: connect
// once (no reconnect — the core restarts a module that lost the broker), subscribe, publish QoS 0/1,
// keepalive. Writes issued in the same tick are coalesced into one system call (cork/uncork), which is
// where a broker round trip spends its time. Reads go into one buffer per connection (the socket's
// `onread` option) and are read there: a message's payload is copied out (a handler may keep it), a packet
// split over reads is copied into its own buffer, and one read through unkept is not copied at all. The
// socket's stream allocates 64 KiB per read and emits an event, and with it an echo module kept 30–37 MiB
// of private memory after the RPC benchmark's load instead of 16–18.
// The handful of packets involved are encoded and decoded here by hand, not with mqtt-packet: its first
// encode builds a cache of 65 536 two-byte Buffers (≈ 7.5 MB of heap in every module process), and its
// generic parser (a buffer list, a state machine, debug calls per packet) cost more CPU than the rest of
// the SDK's receive path together (docs/benchmarks.md).
import net from 'node:net'
import { EventEmitter } from 'node:events'
import { OutpostError } from '../errors.js'
import { encodePublish } from '../protocol/mqtt-publish.js'

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
  /** asked of a PUBLISH of `bytes` (its whole packet) that does not lie in one read, before any of it is kept:
   * false reads it through without keeping it, and `onOversized` gets its first bytes */
  keep?: (topic: string, bytes: number) => boolean
}

/** A PUBLISH read through unkept (ClientOptions.keep): the first bytes of its payload, as far as its first read held them, and the whole packet's size. */
export type OversizedHandler = (topic: string, head: Buffer, bytes: number) => void

/** The handler may keep `payload`: later reads do not overwrite it. `retained` is the RETAIN flag: set when the
 * broker replays a retained message to a new subscription, clear on a live publish [MQTT-3.3.1-8, -9]. */
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean) => void

export interface MqttClient {
  publish (topic: string, payload: Buffer, options?: { retain?: boolean, qos?: 0 | 1 }): Promise<void>
  /**
   * A QoS 0 publish without a promise, for the hot paths (requests, replies, hooks). False if the connection is
   * closed. `tail` goes after `payload`, as more of it, in the same packet.
   */
  send (topic: string, payload: Buffer, tail?: Buffer): boolean
  subscribe (filters: string[]): Promise<void>
  onMessage (handler: MessageHandler): void
  /** called after the messages of each read from the socket have been handled */
  onReadDone (handler: () => void): void
  onOversized (handler: OversizedHandler): void
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

/** A whole packet: fixed header byte, remaining length [MQTT-2.2.3], then the parts. */
function encodePacket (header: number, parts: Buffer[]): Buffer {
  let remaining = 0
  for (const part of parts) remaining += part.length
  const length: number[] = []
  let n = remaining
  do {
    length.push((n % 128) | (n >= 128 ? 0x80 : 0))
    n = Math.floor(n / 128)
  } while (n > 0)
  return Buffer.concat([Buffer.from([header, ...length]), ...parts], 1 + length.length + remaining)
}

/** A length-prefixed field [MQTT-1.5.3]: UTF-8 text or binary data. */
function field (value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  const out = Buffer.allocUnsafe(2 + bytes.length)
  out.writeUInt16BE(bytes.length, 0)
  bytes.copy(out, 2)
  return out
}

/** protocol name "MQTT" and level 4 (3.1.1) [MQTT-3.1.2] */
const PROTOCOL = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4])

function encodeConnect (options: ClientOptions): Buffer {
  const { will, username, password } = options
  let flags = 0x02 // clean session
  if (will !== undefined) flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0)
  if (password !== undefined) flags |= 0x40
  if (username !== undefined) flags |= 0x80
  const parts: Buffer[] = [PROTOCOL, Buffer.from([flags, options.keepaliveSeconds >> 8, options.keepaliveSeconds & 0xff]), field(options.clientId)]
  if (will !== undefined) parts.push(field(will.topic), field(will.payload))
  if (username !== undefined) parts.push(field(username))
  if (password !== undefined) parts.push(field(Buffer.from(password, 'utf8')))
  return encodePacket(0x10, parts)
}

function encodeSubscribe (messageId: number, filters: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([messageId >> 8, messageId & 0xff])]
  for (const filter of filters) parts.push(field(filter), Buffer.from([0])) // requested QoS 0
  return encodePacket(0x82, parts)
}

/** as much as the socket's stream reads at once */
const READ_BUFFER_BYTES = 65536
const PINGREQ = Buffer.from([0xc0, 0])
const DISCONNECT = Buffer.from([0xe0, 0])

function encodeAck (messageId: number): Buffer {
  return Buffer.from([0x40, 2, messageId >> 8, messageId & 0xff])
}

/** Receives one whole packet: its first byte, and where its body lies in `bytes` (valid during the call only). */
export type PacketHandler = (header: number, bytes: Buffer, start: number, end: number) => void

/** Asked of a packet of `total` bytes that does not lie whole in a chunk: its first byte, and where its body starts
 * in `bytes`, which hold as much of it as the chunk did (valid during the call only). False: read it through
 * unkept; undefined: undecided until more of it has come (asked again then, while at most UNDECIDED_BYTES came). */
export type PacketKeeper = (header: number, bytes: Buffer, start: number, end: number, total: number) => boolean | undefined

/** how much of a packet may come before its keeper must decide: a topic the broker passes is at most 1024 bytes */
const UNDECIDED_BYTES = 4096

/**
 * Splits a byte stream into MQTT packets [MQTT-2.2]: fixed header, remaining length (1–4 bytes of 7 bits),
 * body. Returns the function to feed chunks to, each valid during its call only (the socket's read buffer);
 * calls `onError` once on a malformed length. Packets that lie whole in a chunk are read where they are. A
 * packet split over chunks is copied once, into a buffer of its announced size, as each chunk comes, as the
 * broker's reader (core/broker/reader.ts) does: kept chunks joined once whole left the chunks and the joined
 * copy alive together (2× the packet, for a reply of 6 MiB 12 MiB), and joining at every chunk copied what
 * was held again each time (a 6 MiB packet in 64 KiB reads, ≈ 300 MiB copied). The announced size is the
 * broker's to bound (its maxPacketBytes), and `keep` may refuse a packet before any of it is kept.
 */
// the buffers made for one packet split over reads: each holds that packet alone, and nothing else refers to
// it once handed over. Node's pool backs small buffers and Buffer.from copies, shared by everything in the
// process: only a buffer in this set may be freed by whoever it was handed to (modules/uplink/release.ts).
const packetBuffers = new WeakSet<ArrayBufferLike>()

/** Whether `buffer` is one the reader made for a single packet (see packetBuffers). */
export function isPacketBuffer (buffer: ArrayBufferLike): boolean {
  return packetBuffers.has(buffer)
}

export function packetReader (onPacket: PacketHandler, onError: (message: string) => void, keep: PacketKeeper = () => true): (chunk: Buffer) => void {
  // an unfinished packet: a buffer of its whole size once its fixed header has arrived (`held` bytes of it
  // filled so far, its body from `body`), or, while only part of that header has, those bytes (at most 4)
  let unfinished: Buffer | null = null
  let held = 0
  let body = 0
  /** bytes still to come of a packet read through unkept */
  let skip = 0
  return chunk => {
    let bytes = chunk
    let offset = 0
    if (skip > 0) {
      if (chunk.length <= skip) {
        skip -= chunk.length
        return
      }
      offset = skip
      skip = 0
    }
    if (unfinished !== null && unfinished.length > held) {
      const taken = chunk.copy(unfinished, held, offset)
      held += taken
      if (held < unfinished.length) return
      const packet = unfinished
      unfinished = null
      onPacket(packet[0] ?? 0, packet, body, packet.length)
      offset += taken
    } else if (unfinished !== null) {
      bytes = Buffer.concat([unfinished, chunk.subarray(offset)]) // a fixed header split over reads: rare
      offset = 0
      unfinished = null
    }
    while (bytes.length - offset >= 2) {
      let length = 0
      let pos = offset + 1
      let shift = 0
      let byte = 0x80
      while ((byte & 0x80) !== 0 && shift < 28 && pos < bytes.length) {
        byte = bytes[pos++] ?? 0
        length += (byte & 0x7f) * 2 ** shift
        shift += 7
      }
      if ((byte & 0x80) !== 0) {
        if (shift < 28) break // the remaining length goes on in the next chunk
        return onError('invalid remaining length')
      }
      if (bytes.length - pos < length) {
        const total = pos - offset + length
        const kept = keep(bytes[offset] ?? 0, bytes, pos, bytes.length, total)
        // held below as a split fixed header is, and asked again with the next chunk
        if (kept === undefined && bytes.length - offset < UNDECIDED_BYTES) break
        if (kept === false) {
          skip = pos + length - bytes.length
          return
        }
        // never from Node's pool (allocUnsafe takes small ones there): this buffer is the packet's alone
        unfinished = Buffer.allocUnsafeSlow(total)
        packetBuffers.add(unfinished.buffer)
        held = bytes.copy(unfinished, 0, offset)
        body = pos - offset
        return
      }
      onPacket(bytes[offset] ?? 0, bytes, pos, pos + length)
      offset = pos + length
    }
    if (offset < bytes.length) {
      unfinished = Buffer.from(bytes.subarray(offset))
      held = unfinished.length
    }
  }
}

export function connectMqtt (options: ClientOptions): Promise<MqttClient> {
  // set below, before the socket can have read anything
  let onChunk: (chunk: Buffer) => void = () => {}
  let readDone: () => void = () => {}
  const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  const onread = {
    buffer: readBuffer,
    callback: (bytes: number): boolean => {
      onChunk(readBuffer.subarray(0, bytes)) // valid during the call only: the next read reuses readBuffer
      readDone()
      return true
    },
  }
  const socket = net.connect({ ...parseBrokerUrl(options.url), onread })
  socket.setNoDelay(true)
  const events = new EventEmitter()
  const pending = new Map<number, { resolve: () => void, reject: (err: Error) => void }>()
  let handler: MessageHandler = () => {}
  let oversized: OversizedHandler = () => {}
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
    onReadDone (h) { readDone = h },
    onOversized (h) { oversized = h },
    send (topic, payload, tail) {
      if (closed) return false
      write(encodePublish(topic, payload, false, 0, 0, tail))
      return true
    },
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
        write(encodeSubscribe(messageId, filters))
      }).then(() => {}, (err: Error) => {
        throw new OutpostError(err instanceof OutpostError ? err.code : 'NOT_AUTHORISED', `subscribe ${filters.join(', ')}: ${err.message}`)
      })
    },
    end () {
      if (closed) return Promise.resolve()
      return new Promise(resolve => {
        socket.end(DISCONNECT, () => {
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

    socket.on('connect', () => { write(encodeConnect(options)) })
    socket.on('error', (err) => {
      clearTimeout(timeout)
      reject(new OutpostError('NOT_CONNECTED', `cannot reach broker at ${options.url}: ${err.message}`, { cause: err }))
      close(err.message)
    })
    socket.on('close', () => { close('socket closed') })
    const protocolError = (message: string): void => close(`protocol error: ${message}`)
    const onPacket: PacketHandler = (header, bytes, start, end) => {
      if (closed) return
      switch (header >> 4) {
        case 3: { // PUBLISH
          const qos = (header >> 1) & 3
          const topicEnd = end - start < 2 ? end + 1 : start + 2 + bytes.readUInt16BE(start)
          const payloadStart = topicEnd + (qos > 0 ? 2 : 0)
          if (qos === 3 || payloadStart > end) return protocolError('malformed PUBLISH')
          const topic = bytes.toString('utf8', start + 2, topicEnd)
          if (qos === 1) write(encodeAck(bytes.readUInt16BE(topicEnd)))
          // a packet that spanned reads has a buffer of its own, which the handler may have (the uplink frees a large
          // reply's once sent: modules/uplink/release.ts); a packet read whole lies in readBuffer, which the next
          // read reuses, or in a join with other packets (a fixed header split over reads): copied
          const payload = bytes.subarray(payloadStart, end)
          const own = packetBuffers.has(bytes.buffer)
          handler(topic, own ? payload : Buffer.from(payload), (header & 1) === 1)
          break
        }
        case 2: { // CONNACK
          if (end - start < 2) return protocolError('malformed CONNACK')
          clearTimeout(timeout)
          const code = bytes[start + 1] ?? 0
          if (code !== 0) {
            const reason = CONNACK_REASONS[code] ?? `return code ${code}`
            reject(new OutpostError(code === 4 || code === 5 ? 'NOT_AUTHORISED' : 'NOT_CONNECTED', `broker refused connection: ${reason}`))
            close(reason)
            return
          }
          if (options.keepaliveSeconds > 0) {
            pingTimer = setInterval(() => write(PINGREQ), options.keepaliveSeconds * 1000 * 0.75)
            pingTimer.unref()
          }
          resolve(client)
          break
        }
        case 9: { // SUBACK
          if (end - start < 3) return protocolError('malformed SUBACK')
          const messageId = bytes.readUInt16BE(start)
          const waiter = pending.get(messageId)
          pending.delete(messageId)
          if (waiter === undefined) return
          // [MQTT-3.9.3-2] 0x80 in a SUBACK means the subscription was refused
          if (bytes.subarray(start + 2, end).includes(0x80)) waiter.reject(new Error('refused by the broker'))
          else waiter.resolve()
          break
        }
        case 4: { // PUBACK
          if (end - start < 2) return protocolError('malformed PUBACK')
          const messageId = bytes.readUInt16BE(start)
          pending.get(messageId)?.resolve()
          pending.delete(messageId)
          break
        }
        case 0:
        case 15:
          return protocolError(`reserved packet type ${header >> 4}`)
        default: // PINGRESP, and nothing else a broker sends a client that never unsubscribes
          break
      }
    }
    // a PUBLISH is offered to options.keep once its topic has arrived; anything else is kept
    const keepPacket: PacketKeeper = (header, bytes, start, end, total) => {
      if (options.keep === undefined || header >> 4 !== 3) return true
      if (end - start < 2) return undefined // its topic's length has not come yet
      const topicEnd = start + 2 + bytes.readUInt16BE(start)
      const payloadStart = topicEnd + (((header >> 1) & 3) > 0 ? 2 : 0)
      // the topic (or packet id) not whole yet: decided when it is, so where reads split cannot bypass `keep`
      if (payloadStart > end) return undefined
      const topic = bytes.toString('utf8', start + 2, topicEnd)
      if (options.keep(topic, total)) return true
      if (((header >> 1) & 3) === 1) write(encodeAck(bytes.readUInt16BE(topicEnd)))
      oversized(topic, Buffer.from(bytes.subarray(payloadStart, end)), total)
      return false
    }
    onChunk = packetReader(onPacket, protocolError, keepPacket)
  })
}
