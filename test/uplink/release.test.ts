// Freeing a reply's buffer (modules/uplink/release.ts): only one the SDK's reader made for a single packet. A
// merged change freed any buffer of 64 KiB or more, and a small reply's copy lay in Node's shared pool: every
// buffer after it in the process was detached, and the uplink answered nothing more.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { release } from '../../modules/uplink/release.js'
import { packetReader } from '../../core/sdk/mqtt-client.js'
import { encodePublish } from '../../core/protocol/mqtt-publish.js'

test('review: a copied reply, even in a large shared buffer, is never freed; a packet buffer of the reader\'s is', () => {
  const shared = Buffer.alloc(1 << 17)
  const copy = shared.subarray(7560, 8052) // a small reply in a buffer it shares
  release([copy])
  assert.equal(shared.buffer.byteLength, 1 << 17, 'not detached')
  const pooled = Buffer.from('a small reply')
  release([pooled])
  assert.equal(pooled.toString(), 'a small reply')

  const big = encodePublish('reply/x', Buffer.alloc(200_000, 3), false, 0, 0)
  const payloads: Buffer[] = []
  const feed = packetReader((header, bytes, start, end) => payloads.push(bytes.subarray(start, end)), () => {})
  for (let at = 0; at < big.length; at += 65_536) feed(big.subarray(at, at + 65_536))
  assert.equal(payloads.length, 1)
  const payload = payloads[0] as Buffer
  release([payload])
  if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function') assert.equal(payload.buffer.byteLength, 0, 'freed (Node 22 and later)')
})
