// Every read from a client's socket passes through here before Aedes parses it. Whole QoS 0 PUBLISH packets
// that are not retained are offered to the direct path (direct.ts) and, when it takes them, never reach
// Aedes; every other byte goes on to Aedes unchanged, in order. What the direct path writes while a read is
// handled leaves when it is done (writes.ts). Aedes keeps its own flow control: it
// reads (socket.read) only when it has handled what it read before, and this wraps that very call.
// Packet boundaries come from the fixed header [MQTT-2.2], which also lets an oversized packet be refused
// from its first bytes, before its body is buffered.
import type net from 'node:net'
import { holdingWrites } from './writes.js'

/** A QoS 0 PUBLISH read whole from the socket: views into the read, valid during the call only. */
export interface QoS0Publish {
  topic: string
  payload: Buffer
  /** the whole packet, which is byte for byte what a subscriber gets, so it is sent on as read */
  frame: Buffer
}

export interface ReaderOptions {
  /** whole packets, fixed header included */
  maxPacketBytes: number
  /** a packet announced more bytes than allowed (its whole size): the connection should be closed */
  tooLarge (bytes: number): void
  /** whether publishes may be offered now (the client is connected, and not rate limited) */
  offering (): boolean
  /** true when the publish was delivered and Aedes must not see it */
  take (publish: QoS0Publish): boolean
  /** a read held packets that were taken: they count as signs of life, as those Aedes handles do */
  tookSome (): void
}

const PUBLISH_QOS0 = 0x30 // type 3, no DUP, QoS 0, no RETAIN

/** The body length and where the body starts; null until the whole fixed header has arrived, -1 length if malformed. */
function fixedHeader (bytes: Buffer, at: number): { length: number, body: number } | null {
  let length = 0
  let multiplier = 1
  for (let i = at + 1; i < at + 5; i++) {
    if (i >= bytes.length) return null
    const byte = bytes[i] as number
    length += (byte & 0x7f) * multiplier
    if ((byte & 0x80) === 0) return { length, body: i + 1 }
    multiplier *= 128
  }
  return { length: -1, body: at + 5 } // a fifth length byte [MQTT-2.2.3]: Aedes reports the malformed packet
}

function validTopic (topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#')
}

/** the bytes the remaining length takes when written as short as it can be [MQTT-2.2.3], as encodePublish does */
function shortestLengthBytes (length: number): number {
  return length < 128 ? 1 : length < 16_384 ? 2 : length < 2_097_152 ? 3 : 4
}

export function readThrough (socket: net.Socket, options: ReaderOptions): void {
  const read = socket.read
  let rest: Buffer | null = null // the start of a packet whose end has not arrived yet
  // a client publishes on a few topics, again and again: the last one is kept as a string, so that the
  // string (and its hash, which every lookup by topic needs) is made once, not once per message
  let lastTopic = ''
  let lastTopicBytes = Buffer.alloc(0)
  const topicOf = (bytes: Buffer, start: number, end: number): string => {
    const length = end - start
    if (length === lastTopicBytes.length) {
      let i = 0
      while (i < length && bytes[start + i] === lastTopicBytes[i]) i++
      if (i === length) return lastTopic
    }
    lastTopic = bytes.toString('utf8', start, end)
    lastTopicBytes = Buffer.from(bytes.subarray(start, end))
    return lastTopic
  }

  const filter = (chunk: Buffer): Buffer | null => {
    const bytes = rest === null ? chunk : Buffer.concat([rest, chunk])
    rest = null
    // Aedes handles what it is given after this read, so once a packet goes to it, the rest of the read
    // goes too: a SUBSCRIBE followed by a publish in one read takes effect first, as MQTT orders it
    let offer = options.offering()
    const passed: Buffer[] = [] // runs of bytes for Aedes
    let runStart = 0
    let took = false
    let at = 0
    while (at < bytes.length) {
      const header = fixedHeader(bytes, at)
      if (header === null) break
      const total = header.body - at + header.length
      if (total > options.maxPacketBytes) {
        options.tooLarge(total)
        return null
      }
      const end = header.body + header.length
      if (header.length < 0 || end > bytes.length) break
      if (offer && bytes[at] === PUBLISH_QOS0 && header.length >= 2) {
        const topicEnd = header.body + 2 + bytes.readUInt16BE(header.body)
        const topic = topicEnd <= end ? topicOf(bytes, header.body + 2, topicEnd) : ''
        // an empty topic or one with wildcards is a protocol error [MQTT-3.3.2-2]: Aedes closes the connection
        if (validTopic(topic) && header.body - at - 1 === shortestLengthBytes(header.length) &&
          options.take({ topic, payload: bytes.subarray(topicEnd, end), frame: bytes.subarray(at, end) })) {
          if (at > runStart) passed.push(bytes.subarray(runStart, at))
          runStart = end
          took = true
        } else offer = false
      } else offer = false
      at = end
    }
    if (took) options.tookSome()
    if (at > runStart) passed.push(bytes.subarray(runStart, at))
    if (at < bytes.length) {
      // an unfinished packet waits for its end here (Aedes will see it whole), unless Aedes must see it now
      const header = fixedHeader(bytes, at)
      if (header !== null && header.length < 0) passed.push(bytes.subarray(at))
      else rest = Buffer.from(bytes.subarray(at))
    }
    if (passed.length === 0) return null
    return passed.length === 1 ? passed[0] as Buffer : Buffer.concat(passed)
  }

  socket.read = function readFiltered (this: net.Socket, size?: number) {
    const chunk = read.call(this, size) as Buffer | null
    return chunk === null || chunk.length === 0 ? chunk : holdingWrites(() => filter(chunk))
  }
}
