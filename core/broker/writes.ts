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
// While a read is handled: the sockets written to and the frames for each, in order, in plain arrays used
// up to `heldCount`, so that nothing is allocated per read. Each socket carries the number of the read
// that last held frames for it and its place in the arrays, so finding it costs no lookup.
const heldSockets: Array<net.Socket | undefined> = []
const heldFrames: Array<Buffer | Buffer[] | undefined> = []
let heldCount = 0
let holding = false
let readNumber = 0
const kHeldIn = Symbol('outpost.heldInRead')
const kHeldAt = Symbol('outpost.heldAt')
interface HeldMarks { [kHeldIn]?: number, [kHeldAt]?: number }

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
  readNumber++
  try {
    return handle()
  } finally {
    holding = false
    for (let i = 0; i < heldCount; i++) {
      const socket = heldSockets[i] as net.Socket
      const frames = heldFrames[i] as Buffer | Buffer[]
      heldSockets[i] = undefined
      heldFrames[i] = undefined
      if (socket.destroyed) continue
      // a lone frame may be a view into a whole read (direct.ts): queued behind unsent bytes it would keep
      // all of that read alive, so it is copied then (a socket that keeps up takes the write at once)
      if (Array.isArray(frames)) rawWrite(socket, Buffer.concat(frames))
      else rawWrite(socket, socket.writableLength > 0 ? Buffer.from(frames) : frames)
    }
    heldCount = 0
  }
}

/** Writes a whole packet to a socket set up by batchWrites: at once, or when the read being handled is done. */
export function writeSoon (socket: net.Socket, frame: Buffer): void {
  if (!holding) return rawWrite(socket, frame)
  const marks = socket as net.Socket & HeldMarks
  if (marks[kHeldIn] !== readNumber) {
    marks[kHeldIn] = readNumber
    marks[kHeldAt] = heldCount
    heldSockets[heldCount] = socket
    heldFrames[heldCount] = frame
    heldCount++
    return
  }
  const i = marks[kHeldAt] as number
  const before = heldFrames[i] as Buffer | Buffer[]
  if (Array.isArray(before)) before.push(frame)
  else heldFrames[i] = [before, frame]
}
