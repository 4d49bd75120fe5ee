/// <reference lib="dom" />
// A minimal MQTT 3.1.1 client over WebSocket for the dashboard (MQTT 3.1.1 section 6): what a page needs to
// talk to the gateway — CONNECT/CONNACK, SUBSCRIBE/SUBACK, UNSUBSCRIBE, PUBLISH at QoS 0 both ways, PINGREQ — and nothing
// else: no QoS 1/2, no reconnect (the page offers to log in again). mqtt.js's minified browser build is
// 334 KiB; this file compiles to ≈ 6 KiB (docs/benchmarks.md).

export interface MqttOptions {
  clientId: string
  username: string
  password: string
  keepaliveSeconds?: number
}

export interface MqttClient {
  subscribe (filter: string): Promise<number>
  /** no UNSUBACK is awaited: messages already on their way may still arrive */
  unsubscribe (filter: string): void
  publish (topic: string, payload: Uint8Array | string): void
  onMessage (handler: (topic: string, payload: Uint8Array) => void): void
  /** the connection ended: `why` says how */
  onClose (handler: (why: string) => void): void
  close (): void
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** CONNACK return codes [MQTT-3.2.2.3] */
const CONNACK: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client id rejected',
  3: 'the gateway cannot take more clients now (server unavailable)',
  4: 'wrong user name or password',
  5: 'not authorised',
}

function remainingLength (length: number): number[] {
  const bytes: number[] = []
  do {
    let byte = length % 128
    length = Math.floor(length / 128)
    if (length > 0) byte |= 0x80
    bytes.push(byte)
  } while (length > 0)
  return bytes
}

function text (value: string): Uint8Array {
  const bytes = encoder.encode(value)
  const out = new Uint8Array(bytes.length + 2)
  out[0] = bytes.length >> 8
  out[1] = bytes.length & 0xff
  out.set(bytes, 2)
  return out
}

function packet (first: number, parts: Uint8Array[]): Uint8Array {
  const body = parts.reduce((n, p) => n + p.length, 0)
  const header = [first, ...remainingLength(body)]
  const out = new Uint8Array(header.length + body)
  out.set(header, 0)
  let at = header.length
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export function connect (url: string, options: MqttOptions): Promise<MqttClient> {
  const keepalive = options.keepaliveSeconds ?? 30
  const ws = new WebSocket(url, 'mqtt') // the subprotocol [MQTT-6.0.0-3]
  ws.binaryType = 'arraybuffer'
  let messageHandler: (topic: string, payload: Uint8Array) => void = () => {}
  let closeHandler: (why: string) => void = () => {}
  let closeReason = 'the connection was closed'
  const subacks = new Map<number, (code: number) => void>()
  let nextId = 1
  let buffer = new Uint8Array(0)
  let ping: ReturnType<typeof setInterval> | undefined
  let connected: ((code: number) => void) | undefined

  const send = (bytes: Uint8Array): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(bytes) // binary frames only [MQTT-6.0.0-1]
  }

  const handle = (type: number, flags: number, body: Uint8Array): void => {
    if (type === 2) connected?.(body[1] ?? 255)
    else if (type === 9) {
      const id = ((body[0] ?? 0) << 8) | (body[1] ?? 0)
      subacks.get(id)?.(body[2] ?? 0x80)
      subacks.delete(id)
    } else if (type === 3) {
      const length = ((body[0] ?? 0) << 8) | (body[1] ?? 0)
      const topic = decoder.decode(body.subarray(2, 2 + length))
      const qos = (flags >> 1) & 3
      // we subscribe at QoS 0, so the broker sends QoS 0; a packet id would follow the topic otherwise
      messageHandler(topic, body.subarray(2 + length + (qos > 0 ? 2 : 0)))
    }
  }

  ws.onmessage = (event: MessageEvent<ArrayBuffer>) => {
    const chunk = new Uint8Array(event.data)
    const joined = new Uint8Array(buffer.length + chunk.length)
    joined.set(buffer, 0)
    joined.set(chunk, buffer.length)
    let at = 0
    // packets may span WebSocket messages, or share one [MQTT-6.0.0-2]
    for (;;) {
      let length = 0
      let multiplier = 1
      let i = at + 1
      let done = false
      for (; i < joined.length && i < at + 5; i++) {
        const byte = joined[i] as number
        length += (byte & 0x7f) * multiplier
        multiplier *= 128
        if ((byte & 0x80) === 0) {
          done = true
          break
        }
      }
      if (!done || i + 1 + length > joined.length) break
      const first = joined[at] as number
      handle(first >> 4, first & 0x0f, joined.subarray(i + 1, i + 1 + length))
      at = i + 1 + length
    }
    buffer = joined.slice(at)
  }

  return new Promise((resolve, reject) => {
    ws.onerror = () => { closeReason = `cannot reach ${url}` }
    ws.onclose = () => {
      if (ping !== undefined) clearInterval(ping)
      if (connected !== undefined) {
        connected = undefined
        reject(new Error(closeReason))
      }
      closeHandler(closeReason)
    }
    ws.onopen = () => {
      const flags = 0x02 | 0x80 | 0x40 // clean session, user name, password
      send(packet(0x10, [text('MQTT'), Uint8Array.of(4, flags, keepalive >> 8, keepalive & 0xff), text(options.clientId), text(options.username), text(options.password)]))
    }
    connected = code => {
      connected = undefined
      if (code !== 0) {
        closeReason = `the gateway refused the login: ${CONNACK[code] ?? `CONNACK ${code}`}`
        reject(new Error(closeReason))
        ws.close()
        return
      }
      closeReason = 'the gateway closed the connection'
      ping = setInterval(() => send(Uint8Array.of(0xc0, 0)), keepalive * 500)
      resolve({
        subscribe (filter) {
          const id = nextId
          nextId = nextId === 0xffff ? 1 : nextId + 1 // packet ids are 1..65535 [MQTT-2.3.1-1]
          send(packet(0x82, [Uint8Array.of(id >> 8, id & 0xff), text(filter), Uint8Array.of(0)]))
          return new Promise(resolve => subacks.set(id, resolve))
        },
        unsubscribe (filter) {
          const id = nextId
          nextId = nextId === 0xffff ? 1 : nextId + 1
          send(packet(0xa2, [Uint8Array.of(id >> 8, id & 0xff), text(filter)]))
        },
        publish (topic, payload) {
          send(packet(0x30, [text(topic), typeof payload === 'string' ? encoder.encode(payload) : payload]))
        },
        onMessage (handler) { messageHandler = handler },
        onClose (handler) { closeHandler = handler },
        close () {
          send(Uint8Array.of(0xe0, 0))
          closeReason = 'logged out'
          ws.close()
        },
      })
    }
  })
}
