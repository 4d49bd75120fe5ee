// The broker's read path (core/broker/reader.ts): every byte a client sends reaches Aedes unchanged and in
// order, except the QoS 0 publishes the direct path took, whatever the chunk boundaries; and an oversized
// packet is refused from its fixed header.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import type net from 'node:net'
import { readThrough } from '../../core/broker/reader.js'
import type { QoS0Publish } from '../../core/broker/reader.js'
import { encodePublish } from '../../core/protocol/mqtt-publish.js'
import { topicProblem } from '../../core/protocol/topics.js'

const SUBSCRIBE = Buffer.from([0x82, 8, 0, 1, 0, 3, 0x61, 0x2f, 0x62, 0]) // SUBSCRIBE id 1, "a/b" QoS 0
const PINGREQ = Buffer.from([0xc0, 0])
const qos1 = encodePublish('hooks/m/h', Buffer.from('kept'), false, 1, 7)
const retained = encodePublish('state/m', Buffer.from('kept'), true, 0, 0)
const taken = encodePublish('hooks/m/taken', Buffer.alloc(300, 1), false, 0, 0) // a two-byte remaining length
const alsoTaken = encodePublish('hooks/m/also', Buffer.from('y'), false, 0, 0)
const declined = encodePublish('hooks/m/declined', Buffer.from('x'), false, 0, 0)
const wildcard = encodePublish('hooks/+/h', Buffer.from('x'), false, 0, 0)

/** Feeds `chunks` to a stream, reads it the way Aedes does (socket.read), and returns what Aedes saw. */
function run (chunks: Buffer[], options: { offering?: boolean, maxPacketBytes?: number } = {}): { aedes: Buffer, took: QoS0Publish[], tooLarge: number[], alive: number } {
  const stream = new PassThrough()
  const took: QoS0Publish[] = []
  const tooLarge: number[] = []
  let alive = 0
  readThrough(stream as unknown as net.Socket, {
    maxPacketBytes: options.maxPacketBytes ?? 1 << 20,
    tooLarge: bytes => tooLarge.push(bytes),
    offering: () => options.offering ?? true,
    tookSome: () => { alive++ },
    take: publish => {
      // as publishing.ts does: a malformed topic (wildcards here) is declined, and Aedes closes the connection
      if (publish.topic.endsWith('declined') || topicProblem(publish.topic) !== null) return false
      took.push({ topic: publish.topic, payload: Buffer.from(publish.payload), frame: Buffer.from(publish.frame) })
      return true
    },
  })
  const seen: Buffer[] = []
  for (const chunk of chunks) {
    stream.write(chunk)
    for (let read = stream.read() as Buffer | null; read !== null; read = stream.read() as Buffer | null) seen.push(read)
  }
  return { aedes: Buffer.concat(seen), took, tooLarge, alive }
}

test('the reader takes whole QoS 0 publishes and passes everything else on in order, at any chunk boundary', () => {
  const packets = [taken, SUBSCRIBE, alsoTaken, qos1, declined, PINGREQ, retained, wildcard]
  const stream = Buffer.concat(packets)
  for (let size = 1; size <= stream.length; size += size < 16 ? 1 : 37) {
    const chunks: Buffer[] = []
    for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size))
    const { aedes, took, alive } = run(chunks)
    const topics = took.map(p => p.topic)
    // whatever was not taken reaches Aedes whole and in order
    assert.deepEqual(aedes, Buffer.concat(packets.filter(p => !(p === taken && topics.includes('hooks/m/taken')) && !(p === alsoTaken && topics.includes('hooks/m/also')))), `chunks of ${size} bytes`)
    assert.deepEqual(topics[0], 'hooks/m/taken', 'the first packet is always taken')
    assert.ok(topics.every(t => t === 'hooks/m/taken' || t === 'hooks/m/also'), 'only plain QoS 0 publishes are taken')
    assert.deepEqual(took[0]?.payload, Buffer.alloc(300, 1))
    // what subscribers get is the packet as read, byte for byte
    assert.deepEqual(took[0]?.frame, taken)
    for (const p of took.slice(1)) assert.deepEqual(p.frame, alsoTaken)
    assert.ok(alive >= 1 && alive <= topics.length, `a sign of life per read that took something (chunks of ${size} bytes)`)
  }
})

test('after a packet for Aedes, the rest of that read goes to Aedes too: a SUBSCRIBE takes effect before a publish after it', () => {
  const oneRead = run([Buffer.concat([SUBSCRIBE, alsoTaken])])
  assert.deepEqual(oneRead.aedes, Buffer.concat([SUBSCRIBE, alsoTaken]))
  assert.equal(oneRead.took.length, 0)
  const twoReads = run([SUBSCRIBE, alsoTaken])
  assert.deepEqual(twoReads.aedes, SUBSCRIBE)
  assert.deepEqual(twoReads.took.map(p => p.topic), ['hooks/m/also'])
})

test('before the client may publish directly (not connected yet, or rate limited) everything goes to Aedes', () => {
  const stream = Buffer.concat([taken, PINGREQ])
  const { aedes, took, alive } = run([stream], { offering: false })
  assert.deepEqual(aedes, stream)
  assert.equal(took.length, 0)
  assert.equal(alive, 0)
})

test('an oversized packet is refused from its fixed header, before its body arrives', () => {
  const header = taken.subarray(0, 3) // type byte and the two length bytes announcing 300 + topic bytes
  const { tooLarge, took } = run([PINGREQ, header], { maxPacketBytes: 200 })
  assert.deepEqual(tooLarge, [taken.length])
  assert.equal(took.length, 0)
})

test('a malformed remaining length goes to Aedes at once, which closes the connection', () => {
  const malformed = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])
  const { aedes } = run([PINGREQ, malformed])
  assert.deepEqual(aedes, Buffer.concat([PINGREQ, malformed]))
})

test('a publish whose remaining length is not written as short as it can be goes to Aedes, which re-encodes what it sends', () => {
  // "hooks/m/also" with the payload "y": a remaining length of 15, written in two bytes (0x8f 0x00)
  const long = Buffer.from([0x30, 0x8f, 0x00, 0x00, 0x0c, ...Buffer.from('hooks/m/also'), 0x79])
  assert.equal(long.length, 3 + 15)
  const { aedes, took } = run([long, PINGREQ])
  assert.equal(took.length, 0)
  assert.deepEqual(aedes, Buffer.concat([long, PINGREQ]))
})

test('a topic read again, and then another of the same length, each come out right (the reader keeps the last topic)', () => {
  const other = encodePublish('hooks/m/othr', Buffer.from('z'), false, 0, 0) // as long as hooks/m/also
  const { took } = run([alsoTaken, alsoTaken, other, alsoTaken])
  assert.deepEqual(took.map(p => p.topic), ['hooks/m/also', 'hooks/m/also', 'hooks/m/othr', 'hooks/m/also'])
  assert.deepEqual(took.map(p => p.frame), [alsoTaken, alsoTaken, other, alsoTaken])
})

test('issue 10 A6: a packet trickled in one byte per read is copied once, not once per read (no quadratic re-copy)', () => {
  const big = encodePublish('hooks/m/big', Buffer.alloc(32 * 1024, 7), false, 0, 0)
  const chunks = [PINGREQ, big.subarray(0, 1), big.subarray(1, 2)] // a fixed header split as well
  for (let at = 2; at < big.length; at++) chunks.push(big.subarray(at, at + 1))
  chunks.push(PINGREQ)
  // every byte the reader copies goes through Buffer.concat or Buffer#copy: counted while it reads
  let copied = 0
  const concat = Buffer.concat
  const copy = Buffer.prototype.copy // eslint-disable-line @typescript-eslint/unbound-method
  Buffer.concat = function (list: readonly Uint8Array[], length?: number) {
    copied += length ?? list.reduce((sum, b) => sum + b.length, 0)
    return concat.call(Buffer, list, length)
  } as typeof Buffer.concat
  Buffer.prototype.copy = function (this: Buffer, target: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number) {
    const n = copy.call(this, target, targetStart, sourceStart, sourceEnd)
    copied += n
    return n
  }
  let result: ReturnType<typeof run>
  try {
    result = run(chunks)
  } finally {
    Buffer.concat = concat
    Buffer.prototype.copy = copy
  }
  assert.deepEqual(result.took.map(p => p.topic), ['hooks/m/big'])
  assert.deepEqual(result.took[0]?.frame, big, 'the packet arrives whole and unchanged')
  assert.deepEqual(result.aedes, Buffer.concat([PINGREQ, PINGREQ]))
  // the test's own copies of the frame and payload are counted too: 2 × the packet, plus the reader's one
  assert.ok(copied <= 4 * big.length, `${copied} bytes copied for a packet of ${big.length}`)
})

test('issue 10 A6: the size limit is read at every packet, so the broker can raise it once the client is logged in', () => {
  const publish = encodePublish('hooks/m/taken', Buffer.alloc(3000, 1), false, 0, 0)
  const stream = new PassThrough()
  const options = { maxPacketBytes: 2048, tooLarge: (bytes: number) => refused.push(bytes), offering: () => true, tookSome: () => {}, take: () => true }
  const refused: number[] = []
  readThrough(stream as unknown as net.Socket, options)
  options.maxPacketBytes = 4096
  stream.write(publish)
  stream.read()
  assert.deepEqual(refused, [])
  options.maxPacketBytes = 2048
  stream.write(publish)
  stream.read()
  assert.deepEqual(refused, [publish.length])
})
