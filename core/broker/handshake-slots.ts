// A TLS connection takes its pending slot when its TCP connection arrives, not when its handshake ends, so
// handshakes that never finish are evicted like any silent connection (limits.ts pendingGate) instead of
// filling the listener. The TLS socket finds its slot again by its peer's address and port.
import type net from 'node:net'
import type { PendingSlot } from './limits.js'

/**
 * Takes a slot (`enter`) for every TCP connection `server` accepts; returns the function that hands it to
 * the TLS socket of that connection once its handshake is done: undefined when the TCP connection was
 * evicted or closed meanwhile (the TLS socket is then to be destroyed).
 */
export function slotsAcrossHandshake (server: net.Server, enter: (raw: net.Socket) => PendingSlot | null): (secure: net.Socket) => PendingSlot | undefined {
  const handshaking = new Map<string, PendingSlot>() // bounded by the listener's maxPending: evicted sockets leave it on close
  const peer = (socket: net.Socket): string => `${socket.remoteAddress ?? ''} ${socket.remotePort ?? ''}`
  server.on('connection', (raw: net.Socket) => {
    const slot = enter(raw)
    if (slot === null) return
    const key = peer(raw)
    handshaking.set(key, slot)
    raw.once('close', () => { if (handshaking.get(key) === slot) handshaking.delete(key) })
  })
  return (secure) => {
    const key = peer(secure)
    const slot = handshaking.get(key)
    handshaking.delete(key)
    return slot
  }
}
