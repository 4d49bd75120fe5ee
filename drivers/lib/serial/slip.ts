// RFC 1055 SLIP packets from a byte stream, bounded. serialport's SlipDecoder copies the whole packet so far
// for every byte it adds (quadratic) and has no limit: a device that never sends END grows the process
// without bound. Here a packet grows in place (doubling, up to the limit), and a packet past the limit is
// dropped up to the next END.
import type { FrameSink } from './split.js'

const END = 0xc0
const ESC = 0xdb
const ESC_END = 0xdc
const ESC_ESC = 0xdd

export function createSlipDecoder (maxFrameBytes: number, sink: FrameSink): { push (chunk: Buffer): void } {
  let packet = Buffer.allocUnsafe(Math.min(256, maxFrameBytes))
  let length = 0
  let escaped = false
  let dropping = false

  const add = (byte: number): void => {
    if (dropping) return
    if (length === maxFrameBytes) {
      dropping = true
      length = 0
      sink.overflow()
      return
    }
    if (length === packet.length) {
      const bigger = Buffer.allocUnsafe(Math.min(maxFrameBytes, packet.length * 2))
      packet.copy(bigger, 0, 0, length)
      packet = bigger
    }
    packet[length++] = byte
  }

  return {
    push (chunk) {
      for (const byte of chunk) {
        if (escaped) {
          escaped = false
          // RFC 1055: an ESC followed by anything else is a protocol violation; the byte is kept as it is
          add(byte === ESC_END ? END : byte === ESC_ESC ? ESC : byte)
        } else if (byte === ESC) {
          escaped = true
        } else if (byte === END) {
          // an END with nothing before it (the start-of-packet END many senders put first) makes no packet
          if (!dropping && length > 0) sink.frame(Buffer.from(packet.subarray(0, length)))
          length = 0
          dropping = false
        } else {
          add(byte)
        }
      }
    },
  }
}
