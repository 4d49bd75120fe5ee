// Length-prefixed frames (4-byte big-endian length, then the body) over a byte stream: the raw baseline's
// whole protocol.

/** Feeds chunks in; calls `onFrames` with each run of complete frames (as one buffer) and how many it holds. */
export function frameReader (onFrames: (bytes: Buffer, frames: number) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0)
  return chunk => {
    const bytes = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let offset = 0
    let frames = 0
    while (bytes.length - offset >= 4) {
      const size = 4 + bytes.readUInt32BE(offset)
      if (bytes.length - offset < size) break
      offset += size
      frames++
    }
    if (frames > 0) onFrames(bytes.subarray(0, offset), frames)
    pending = bytes.subarray(offset)
  }
}

export function frame (body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length)
  out.writeUInt32BE(body.length, 0)
  body.copy(out, 4)
  return out
}
