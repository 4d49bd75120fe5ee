// How the broker writes to a client's socket. The system call, not the MQTT encoding, is where a busy
// broker spends its time, so writes to one socket are coalesced:
// - Aedes writes each outgoing packet on its own, from its own deferred callbacks; those writes are corked
//   until the next `setImmediate`, after the loop turn's other deliveries (batchWrites), one writev.
// - Direct deliveries (direct.ts) happen while one read from a publisher is handled (reader.ts); they are
//   held until that read is done and then leave as one write per socket, so a round trip never waits for
//   a later callback, and one call at a time costs a plain write.
import type net from 'node:net'

type Write = (chunk: Buffer) => boolean
const rawWrites = new WeakMap<net.Socket, Write>()
/** while a read is handled: the frames for each socket, in order */
const held = new Map<net.Socket, Buffer | Buffer[]>()
let holding = false

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

function rawWrite (socket: net.Socket, frame: Buffer): void {
  const write = rawWrites.get(socket)
  if (write === undefined) throw new Error('writeSoon: the socket was not set up by batchWrites')
  write(frame)
}

/** Runs the handling of one read; the frames written meanwhile leave when it returns. */
export function holdingWrites<T> (handle: () => T): T {
  holding = true
  try {
    return handle()
  } finally {
    holding = false
    for (const [socket, frames] of held) {
      if (!socket.destroyed) rawWrite(socket, Array.isArray(frames) ? Buffer.concat(frames) : frames)
    }
    held.clear()
  }
}

/** Writes a whole packet to a socket set up by batchWrites: at once, or when the read being handled is done. */
export function writeSoon (socket: net.Socket, frame: Buffer): void {
  if (!holding) return rawWrite(socket, frame)
  const before = held.get(socket)
  if (before === undefined) held.set(socket, frame)
  else if (Array.isArray(before)) before.push(frame)
  else held.set(socket, [before, frame])
}
