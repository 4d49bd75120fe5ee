// mqtt.js holds an incoming packet of any announced size (up to 256 MiB) until it is whole, and MQTT 3.1.1
// gives a client no way to tell the server a maximum. This watches the same bytes the parser reads, packet
// by packet from their fixed headers [MQTT-2.2], so that a connection can be closed as soon as a packet
// announces more than its reader takes, before its body is held. Used by the uplink and by the CLI.

/**
 * A `data` listener for a client's socket, added before it reads anything (so that it starts at a packet's
 * first byte): calls `tooLarge` with the announced remaining length [MQTT-2.2.3] when it passes `max`, and
 * watches nothing after that (the caller closes the connection). A malformed length (a fifth length byte)
 * announces more than any bound and is reported the same way.
 */
export function packetGuard (max: number, tooLarge: (announced: number) => void): (chunk: Buffer) => void {
  let state: 'head' | 'length' | 'body' | 'done' = 'head'
  let length = 0
  let multiplier = 1
  let left = 0
  return chunk => {
    let i = 0
    while (i < chunk.length && state !== 'done') {
      if (state === 'body') {
        const take = Math.min(left, chunk.length - i)
        left -= take
        i += take
        if (left === 0) state = 'head'
      } else if (state === 'head') {
        state = 'length'
        length = 0
        multiplier = 1
        i++
      } else {
        const byte = chunk[i++] as number
        length += (byte & 0x7f) * multiplier
        multiplier *= 128
        if (byte & 0x80 && multiplier < 128 ** 4) continue
        if (length > max || byte & 0x80) {
          state = 'done'
          tooLarge(byte & 0x80 ? Infinity : length)
          return
        }
        left = length
        state = left === 0 ? 'head' : 'body'
      }
    }
  }
}
