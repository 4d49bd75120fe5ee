// A TLS connection takes its pending slot when its TCP connection arrives, not when its handshake ends, so
// handshakes that never finish are evicted like any silent connection (limits.ts pendingGate) instead of
// filling the listener. The TLS socket finds its slot again by its peer's address and port.
// The handshake gets `timeoutMs` from the TCP connection on, however slowly its bytes come: Node's own
// `handshakeTimeout` is an idle timeout (a ClientHello trickled in holds it open), and when it fires it only
// emits 'tlsClientError', leaving the socket open for good.
import type net from 'node:net'
import type { PendingSlot } from './limits.js'

/**
 * Takes a slot (`enter`) for every TCP connection `server` accepts and closes it if its handshake is not done
 * within `timeoutMs`; returns the function that hands the slot to the TLS socket of that connection once its
 * handshake is done: undefined when the TCP connection was evicted or closed meanwhile (the TLS socket is
 * then to be destroyed).
 */
export function slotsAcrossHandshake (server: net.Server, enter: (raw: net.Socket) => PendingSlot | null, timeoutMs: number): (secure: net.Socket) => PendingSlot | undefined {
  // bounded by the listener's maxPending: evicted sockets leave it on close
  const handshaking = new Map<string, { slot: PendingSlot, timer: NodeJS.Timeout }>()
  const peer = (socket: net.Socket): string => `${socket.remoteAddress ?? ''} ${socket.remotePort ?? ''}`
  server.on('connection', (raw: net.Socket) => {
    const slot = enter(raw)
    if (slot === null) return
    const key = peer(raw)
    const entry = { slot, timer: setTimeout(() => raw.destroy(), timeoutMs) }
    handshaking.set(key, entry)
    raw.once('close', () => {
      clearTimeout(entry.timer)
      if (handshaking.get(key) === entry) handshaking.delete(key)
    })
  })
  return (secure) => {
    const key = peer(secure)
    const entry = handshaking.get(key)
    if (entry === undefined) return undefined
    handshaking.delete(key)
    clearTimeout(entry.timer)
    return entry.slot
  }
}
