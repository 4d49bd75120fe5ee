// How the broker writes direct deliveries (core/broker/writes.ts): frames written while one read is handled
// leave when it is done, in order, in one write per socket; outside a read they leave at once. Real
// loopback sockets; a sinon spy counts the writes that reach each socket.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import sinon from 'sinon'
import { batchWrites, holdingWrites, writeSoon } from '../../core/broker/writes.js'

interface Pair {
  /** the broker's end, set up by batchWrites */
  broker: net.Socket
  peer: net.Socket
  /** the writes that reached the broker's socket */
  writes: sinon.SinonSpy
  /** what the peer has received once `bytes` bytes are in (bounded wait) */
  received (bytes: number): Promise<Buffer>
}

/** `count` connected pairs of loopback sockets. */
async function pairs (count: number): Promise<{ made: Pair[], close: () => void }> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  const made: Pair[] = []
  for (let i = 0; i < count; i++) {
    const accepted = once(server, 'connection')
    const peer = net.connect(port, '127.0.0.1')
    const [broker] = await accepted as [net.Socket]
    const writes = sinon.spy(broker, 'write')
    batchWrites(broker)
    const chunks: Buffer[] = []
    peer.on('data', chunk => chunks.push(chunk))
    made.push({
      broker,
      peer,
      writes,
      received: async bytes => {
        for (let tries = 0; tries < 100 && Buffer.concat(chunks).length < bytes; tries++) await new Promise(resolve => setTimeout(resolve, 10))
        return Buffer.concat(chunks)
      },
    })
  }
  return {
    made,
    close: () => {
      for (const { broker, peer } of made) { broker.destroy(); peer.destroy() }
      server.close()
    },
  }
}

test('frames written during a read leave when it is done: in order, one write per socket', async () => {
  const { made, close } = await pairs(2)
  try {
    const [a, b] = made as [Pair, Pair]
    const frame = (text: string): Buffer => Buffer.from(text)
    const returned = holdingWrites(() => {
      writeSoon(a.broker, frame('a1,'))
      writeSoon(b.broker, frame('b1,'))
      writeSoon(a.broker, frame('a2,'))
      writeSoon(a.broker, frame('a3,'))
      assert.equal(a.writes.callCount + b.writes.callCount, 0, 'nothing leaves while the read is handled')
      return 'handled'
    })
    assert.equal(returned, 'handled')
    assert.equal(a.writes.callCount, 1)
    assert.equal(b.writes.callCount, 1)
    assert.equal((await a.received(9)).toString(), 'a1,a2,a3,')
    assert.equal((await b.received(3)).toString(), 'b1,')

    // the next read starts afresh, and outside a read a frame leaves at once
    holdingWrites(() => { writeSoon(b.broker, frame('b2,')) })
    writeSoon(a.broker, frame('a4,'))
    assert.equal(a.writes.callCount, 2)
    assert.equal(b.writes.callCount, 2)
    assert.equal((await a.received(12)).toString(), 'a1,a2,a3,a4,')
    assert.equal((await b.received(6)).toString(), 'b1,b2,')
  } finally {
    close()
  }
})

test('frames held for a socket destroyed meanwhile are dropped, and the others still leave', async () => {
  const { made, close } = await pairs(2)
  try {
    const [a, b] = made as [Pair, Pair]
    holdingWrites(() => {
      writeSoon(a.broker, Buffer.from('lost'))
      writeSoon(b.broker, Buffer.from('kept'))
      a.broker.destroy()
    })
    assert.equal(a.writes.callCount, 0)
    assert.equal((await b.received(4)).toString(), 'kept')
  } finally {
    close()
  }
})
