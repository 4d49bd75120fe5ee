// The SDK client's packet reader (core/sdk/mqtt-client.ts) fed chunk by chunk, as reads come from the socket.
// Review finding: it joined what it held with every chunk of an unfinished packet, so a 6 MiB packet in
// 64 KiB reads copied ≈ 300 MiB, and in 1 KiB reads ≈ 18 GiB; then it joined once, when the packet was whole,
// which left the chunks and the joined copy alive together (2× the packet); it now copies each chunk into one
// buffer of the packet's announced size. Chunks are fed as the socket reads them: views into one buffer that
// the next read overwrites.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { packetReader } from '../../core/sdk/mqtt-client.js'
import { encodePublish } from '../../core/protocol/mqtt-publish.js'

interface Packet { header: number, body: Buffer }

function reader (): { feed: (chunk: Buffer) => void, packets: Packet[], errors: string[] } {
  const packets: Packet[] = []
  const errors: string[] = []
  // a copy: the bytes are valid during the call only
  const feed = packetReader((header, bytes, start, end) => packets.push({ header, body: Buffer.from(bytes.subarray(start, end)) }), m => errors.push(m))
  return { feed, packets, errors }
}

/** `bytes` in chunks of `size`, each read into the same buffer, overwriting the one before (as the socket's reads are) */
function * chunks (bytes: Buffer, size: number): Generator<Buffer> {
  const readBuffer = Buffer.alloc(size)
  for (let at = 0; at < bytes.length; at += size) yield readBuffer.subarray(0, bytes.copy(readBuffer, 0, at, at + size))
}

/** the body of a PUBLISH as encodePublish writes it: topic length, topic, payload (QoS 0) */
function publishBody (topic: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic)
  return Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, payload])
}

test('a 6 MiB packet in 64 KiB chunks, then in 1 KiB chunks, comes out whole, between small ones', () => {
  const payload = Buffer.alloc(6 * 1024 * 1024)
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32BE(i, i)
  const small = encodePublish('hooks/a/b', Buffer.from('small'), false, 0, 0)
  const big = encodePublish('hooks/a/big', payload, false, 0, 0)
  for (const size of [65_536, 1024]) {
    const r = reader()
    const started = performance.now()
    for (const chunk of chunks(Buffer.concat([small, big, small]), size)) r.feed(chunk)
    const ms = performance.now() - started
    assert.deepEqual(r.errors, [])
    assert.equal(r.packets.length, 3, `chunks of ${size}`)
    assert.ok(r.packets[1]?.body.equals(publishBody('hooks/a/big', payload)), `chunks of ${size}`)
    assert.ok(r.packets[0]?.body.equals(publishBody('hooks/a/b', Buffer.from('small'))))
    assert.ok(r.packets[2]?.body.equals(publishBody('hooks/a/b', Buffer.from('small'))))
    // joined at every chunk, 1 KiB chunks copied ≈ 18 GiB (many seconds); joined once, a few milliseconds
    assert.ok(ms < 3000, `${ms} ms for chunks of ${size}`)
  }
})

test('a packet split inside its remaining length, and at every byte', () => {
  const payload = Buffer.alloc(300_000, 9) // a remaining length of 3 bytes
  const packet = encodePublish('hooks/a/split', payload, false, 0, 0)
  const body = publishBody('hooks/a/split', payload)
  // after the first byte, after the first and after the second length byte
  for (const cut of [1, 2, 3]) {
    const r = reader()
    const read = Buffer.from(packet)
    r.feed(read.subarray(0, cut))
    read.fill(0, 0, cut) // the next read overwrites the buffer
    assert.equal(r.packets.length, 0)
    r.feed(read.subarray(cut))
    assert.equal(r.packets.length, 1, `cut at ${cut}`)
    assert.ok(r.packets[0]?.body.equals(body), `cut at ${cut}`)
    assert.equal(r.packets[0]?.header, 0x30)
  }
  const pingresp = Buffer.from([0xd0, 0])
  const small = encodePublish('t/x', Buffer.from([1, 2, 3]), false, 0, 0)
  const r = reader()
  for (const chunk of chunks(Buffer.concat([small, pingresp, small]), 1)) r.feed(chunk)
  assert.deepEqual(r.packets.map(p => p.header), [0x30, 0xd0, 0x30])
  assert.deepEqual(r.packets.map(p => [...p.body]), [[...publishBody('t/x', Buffer.from([1, 2, 3]))], [], [...publishBody('t/x', Buffer.from([1, 2, 3]))]])
})

test('whole packets in one chunk are read where they lie; a fifth length byte is an error', () => {
  const two = Buffer.concat([encodePublish('t/1', Buffer.from('a'), false, 0, 0), encodePublish('t/2', Buffer.from('b'), false, 0, 0)])
  const seen: Buffer[] = []
  packetReader((_header, bytes) => seen.push(bytes), () => {})(two)
  assert.equal(seen.length, 2)
  assert.ok(seen.every(b => b === two), 'no copy of a chunk holding whole packets')
  const r = reader()
  r.feed(Buffer.from([0x30, 0x80, 0x80]))
  r.feed(Buffer.from([0x80, 0x80, 0x01, 0]))
  assert.deepEqual(r.errors, ['invalid remaining length'])
})

test('a packet split over reads is copied into one buffer of its size', () => {
  const packet = encodePublish('hooks/a/one', Buffer.alloc(200_000, 7), false, 0, 0)
  const seen: Buffer[] = []
  const feed = packetReader((_header, bytes) => seen.push(bytes), () => {})
  for (const chunk of chunks(packet, 65_536)) feed(chunk)
  assert.equal(seen.length, 1)
  assert.ok(seen[0]?.equals(packet), 'the whole packet, its fixed header included')
  assert.equal(seen[0]?.buffer.byteLength, packet.length, 'a buffer of its own, of its size')
})

test('a packet its keeper refuses is read through unkept; the packets around it come out whole', () => {
  const small = encodePublish('t/s', Buffer.from('small'), false, 0, 0)
  const big = encodePublish('reply/x', Buffer.alloc(600_000, 5), false, 0, 0)
  const asked: Array<{ total: number, head: number }> = []
  const packets: number[] = []
  const feed = packetReader((header, bytes, start, end) => packets.push(end - start), () => {}, (header, bytes, start, end, total) => {
    asked.push({ total, head: bytes[start - 2] === undefined ? -1 : header })
    return total < 100_000
  })
  for (const chunk of chunks(Buffer.concat([small, big, small, big.subarray(0, 70_000)]), 65_536)) feed(chunk)
  assert.deepEqual(asked, [{ total: big.length, head: 0x30 }, { total: big.length, head: 0x30 }])
  assert.deepEqual(packets, [small.length - 2, small.length - 2], 'the small packets, not the big one')
})

test('review: a keeper that cannot decide yet (the topic not whole in the first read) is asked again, so where reads split does not bypass it', () => {
  const topic = 'reply/' + 'x'.repeat(300)
  const big = encodePublish(topic, Buffer.alloc(300_000, 7), false, 0, 0)
  const after = encodePublish('t/after', Buffer.from('after'), false, 0, 0)
  const asked: number[] = []
  const packets: number[] = []
  const feed = packetReader((header, bytes, start, end) => packets.push(end - start), () => {}, (header, bytes, start, end) => {
    asked.push(end - start)
    if (end - start < 2 || end - start < 2 + bytes.readUInt16BE(start)) return undefined
    return false // refused once its topic is known
  })
  // the first read ends 100 bytes into the topic, the next ones are small, then the rest
  const stream = Buffer.concat([big, after])
  feed(stream.subarray(0, 104))
  feed(stream.subarray(104, 204))
  feed(stream.subarray(204, 404))
  for (let at = 404; at < stream.length; at += 65_536) feed(stream.subarray(at, Math.min(stream.length, at + 65_536)))
  assert.ok(asked.length >= 2, `asked again with more of it: ${asked.join(', ')}`)
  assert.ok(asked.every((seen, i) => i === 0 || seen > (asked[i - 1] as number)), 'each time with more of the packet')
  assert.deepEqual(packets, [after.length - 2], 'refused, read through; the packet after it whole')
})
