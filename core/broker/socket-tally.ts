// Connections and bytes per listener, for `rpc/core/metrics`: each listener's open sockets, and the bytes of
// those already closed. Node counts every socket's bytes itself (bytesRead, bytesWritten), so nothing is
// counted per message; a tally is taken only when asked for.
import type net from 'node:net'

export interface SocketTally {
  /** a socket the listener accepted: counted until it closes, then its bytes are kept */
  track (socket: net.Socket): void
  /** sockets open now, and every byte read from and written to the listener's sockets since it started */
  tally (): { connections: number, bytesIn: number, bytesOut: number }
}

export function socketTally (): SocketTally {
  const open = new Set<net.Socket>()
  let closedIn = 0
  let closedOut = 0
  return {
    track (socket) {
      open.add(socket)
      socket.once('close', () => {
        open.delete(socket)
        closedIn += socket.bytesRead
        closedOut += socket.bytesWritten
      })
    },
    tally () {
      let bytesIn = closedIn
      let bytesOut = closedOut
      for (const socket of open) {
        bytesIn += socket.bytesRead
        bytesOut += socket.bytesWritten
      }
      return { connections: open.size, bytesIn, bytesOut }
    },
  }
}
