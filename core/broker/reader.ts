// Every read from a client's socket passes through here before Aedes parses it. Whole QoS 0 PUBLISH packets
// that are not retained are offered to the direct path (direct.ts) and, when it takes them, never reach
// Aedes; every other byte goes on to Aedes unchanged, in order. What the direct path writes while a read is
// handled leaves when it is done (writes.ts). Aedes keeps its own flow control: it
// reads (socket.read) only when it has handled what it read before, and this wraps that very call.
// Packet boundaries come from the fixed header [MQTT-2.2], which also lets an oversized packet be refused
// from its first bytes, before its body is buffered. A packet split over many reads is copied once, into a
// buffer of its announced size: a client trickling bytes onto a large unfinished packet costs only the bytes
// it sends, never a copy of what is held.
import type net from 'node:net'
import { holdingWrites } from './writes.js'

/** A QoS 0 PUBLISH read whole from the socket: views into the read, and the object itself, valid during the call only. */
export interface QoS0Publish {
  topic: string
  payload: Buffer
  /** the whole packet, which is byte for byte what a subscriber gets, so it is sent on as read */
  frame: Buffer
}

export interface ReaderOptions {
  /** whole packets, fixed header included; read at every packet, so the caller may change it (after the CONNACK) */
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
const NOTHING = Buffer.alloc(0)

// what fixedHeader read last (module state rather than an object per packet: this runs for every packet)
/** the body's length, -1 when the remaining length is malformed */
let bodyLength = 0
/** where the body starts */
let bodyStart = 0

/** Reads the fixed header at `at` into bodyLength and bodyStart; false until the whole header has arrived. */
function fixedHeader (bytes: Buffer, at: number): boolean {
  let length = 0
  let multiplier = 1
  for (let i = at + 1; i < at + 5; i++) {
    if (i >= bytes.length) return false
    const byte = bytes[i] as number
    length += (byte & 0x7f) * multiplier
    if ((byte & 0x80) === 0) {
      bodyLength = length
      bodyStart = i + 1
      return true
    }
    multiplier *= 128
  }
  bodyLength = -1 // a fifth length byte [MQTT-2.2.3]: Aedes reports the malformed packet
  bodyStart = at + 5
  return true
}

/** the bytes the remaining length takes when written as short as it can be [MQTT-2.2.3], as encodePublish does */
function shortestLengthBytes (length: number): number {
  return length < 128 ? 1 : length < 16_384 ? 2 : length < 2_097_152 ? 3 : 4
}

export function readThrough (socket: net.Socket, options: ReaderOptions): void {
  const read = socket.read
  // an unfinished packet: a buffer of its whole size once its fixed header has arrived (`held` bytes of it
  // filled so far), or, while only part of that header has, just those bytes (then `held` is their length)
  let unfinished: Buffer | null = null
  let held = 0
  // a client publishes on a few topics, again and again: the last one is kept as a string, so that the
  // string (and its hash, which every lookup by topic needs) is made once, not once per message
  let lastTopic = ''
  let lastTopicBytes = NOTHING
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

  // one object for every publish this connection offers (its fields are only valid during `take`)
  const publish: QoS0Publish = { topic: '', payload: NOTHING, frame: NOTHING }
  const offerPublish = (bytes: Buffer, topic: string, topicEnd: number, at: number, end: number): boolean => {
    publish.topic = topic
    publish.payload = bytes.subarray(topicEnd, end)
    // one packet per read is the common case: then the read itself is the frame
    publish.frame = at === 0 && end === bytes.length ? bytes : bytes.subarray(at, end)
    return options.take(publish)
  }

  const filter = (chunk: Buffer): Buffer | null => {
    let bytes = chunk
    if (unfinished !== null) {
      if (unfinished.length > held) {
        const taken = chunk.copy(unfinished, held)
        held += taken
        if (held < unfinished.length) return null
        bytes = taken === chunk.length ? unfinished : Buffer.concat([unfinished, chunk.subarray(taken)])
      } else bytes = Buffer.concat([unfinished, chunk]) // at most 4 bytes of a fixed header were held
      unfinished = null
    }
    // Aedes handles what it is given after this read, so once a packet goes to it, the rest of the read
    // goes too: a SUBSCRIBE followed by a publish in one read takes effect first, as MQTT orders it
    let offer = options.offering()
    let passed: Buffer[] | null = null // runs of bytes for Aedes
    let runStart = 0
    let took = false
    let at = 0
    while (at < bytes.length) {
      if (!fixedHeader(bytes, at)) break
      const total = bodyStart - at + bodyLength
      if (total > options.maxPacketBytes) {
        options.tooLarge(total)
        return null
      }
      const end = bodyStart + bodyLength
      if (bodyLength < 0 || end > bytes.length) break
      if (offer && bytes[at] === PUBLISH_QOS0 && bodyLength >= 2) {
        const topicEnd = bodyStart + 2 + bytes.readUInt16BE(bodyStart)
        const topic = topicEnd <= end ? topicOf(bytes, bodyStart + 2, topicEnd) : ''
        // a malformed topic (topics.ts topicProblem) is refused by `take`, and Aedes closes the connection
        if (bodyStart - at - 1 === shortestLengthBytes(bodyLength) && offerPublish(bytes, topic, topicEnd, at, end)) {
          if (at > runStart) (passed ??= []).push(bytes.subarray(runStart, at))
          runStart = end
          took = true
        } else offer = false
      } else offer = false
      at = end
    }
    if (took) options.tookSome()
    if (at > runStart) (passed ??= []).push(bytes.subarray(runStart, at))
    if (at < bytes.length) {
      // an unfinished packet waits for its end here (Aedes will see it whole), unless Aedes must see it now
      if (!fixedHeader(bytes, at)) held = (unfinished = Buffer.from(bytes.subarray(at))).length
      else if (bodyLength < 0) (passed ??= []).push(bytes.subarray(at))
      else held = bytes.copy(unfinished = Buffer.allocUnsafe(bodyStart - at + bodyLength), 0, at) // its size was checked above
    }
    if (passed === null) return null
    return passed.length === 1 ? passed[0] as Buffer : Buffer.concat(passed)
  }

  socket.read = function readFiltered (this: net.Socket, size?: number) {
    const chunk = read.call(this, size) as Buffer | null
    if (chunk === null || chunk.length === 0) return chunk
    try {
      return holdingWrites(() => filter(chunk))
    } catch (err) {
      // a throw here would escape into Aedes's read loop and crash the core: the connection goes instead
      this.destroy(err as Error)
      return null
    }
  }
}
