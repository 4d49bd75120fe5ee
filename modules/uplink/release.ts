// A reply of a few MiB, once sent on or dropped, is garbage that the collector may leave for seconds, and
// operators flooding at once made such garbage faster than it went (the uplink passed its memory budget).
// The buffer a reply was read into is the SDK's own for that packet (core/sdk/mqtt-client.ts: a packet split
// over reads gets a buffer of its size, a payload read whole is copied), so it is given back at once: detached
// (ArrayBuffer.transfer), its memory freed. Any other buffer — a copy, which may lie in Node's pool with
// others' bytes (detaching one broke every buffer after it) — is left to the collector, as everything is on
// Node 20, which has no transfer (22 and later have).
import { isPacketBuffer } from '../../core/sdk/mqtt-client.js'

const OWN_BUFFER_BYTES = 65_536

type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer, detached?: boolean }

/** Frees the large buffers under `pieces` now; nothing may read them after. Only for buffers the SDK handed over
 * as a reply: one the CBOR encoder returned lies in the encoder's own, which it goes on writing into. */
export function release (pieces: readonly Buffer[]): void {
  for (const piece of pieces) {
    const buffer = piece.buffer as Transferable
    // only a buffer the SDK's reader made for this packet alone: a pooled one holds other buffers' bytes
    if (buffer.byteLength >= OWN_BUFFER_BYTES && isPacketBuffer(buffer) && buffer.detached !== true && typeof buffer.transfer === 'function') buffer.transfer(0)
  }
}
