// How the broker writes to a client's socket. The system call, not the MQTT encoding, is where a busy
// broker spends its time, so writes to one socket are coalesced into one writev:
// - Aedes writes each outgoing packet on its own, from its own deferred callbacks; those writes are held
//   until the next `setImmediate`, after the loop turn's other deliveries (batchWrites).
// - Direct deliveries (direct.ts) are written while one read from a publisher is being parsed; they are held
//   only until that read is done (`process.nextTick`), so a round trip never waits a loop turn.
import type net from 'node:net'

type Write = (chunk: Buffer) => boolean
const rawWrites = new WeakMap<net.Socket, Write>()
const ticking = new WeakSet<net.Socket>()

export function batchWrites (socket: net.Socket): net.Socket {
  const write = socket.write
  rawWrites.set(socket, chunk => (write as Write).call(socket, chunk))
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  socket.write = function batchedWrite (this: net.Socket, ...args: any[]) {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(uncork)
    }
    return (write as (...a: any[]) => boolean).apply(this, args)
  } as typeof socket.write
  return socket
}

function flush (socket: net.Socket): void {
  ticking.delete(socket)
  socket.uncork()
}

/** Writes a whole packet to a socket set up by batchWrites, flushed once the current read is handled. */
export function writeSoon (socket: net.Socket, frame: Buffer): void {
  const write = rawWrites.get(socket)
  if (write === undefined) throw new Error('writeSoon: the socket was not set up by batchWrites')
  if (!ticking.has(socket)) {
    ticking.add(socket)
    socket.cork()
    process.nextTick(flush, socket)
  }
  write(frame)
}
