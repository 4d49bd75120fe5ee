// Cutting a byte stream into frames at a delimiter, bounded: each byte is searched once (only the new chunk
// is searched, plus the few bytes where a delimiter may straddle two chunks) and copied at most twice (into
// the held part, then into the frame), and no frame grows past its limit. serialport's DelimiterParser
// concatenates and re-searches everything held on every chunk, without a limit: a device that never sends
// the delimiter grows the process without bound, and each chunk costs as much as all the bytes before it.

export interface FrameSink {
  frame (frame: Buffer): void
  /** a frame grew past the limit: it is dropped, and so is everything up to the next delimiter */
  overflow (): void
}

export interface Splitter {
  push (chunk: Buffer): void
}

const EMPTY = Buffer.alloc(0)

export function createSplitter (delimiter: Buffer, maxFrameBytes: number, sink: FrameSink): Splitter {
  const span = delimiter.length - 1
  let parts: Buffer[] = []
  let held = 0
  /** the frame in progress went past the limit: its bytes are dropped until the next delimiter */
  let dropping = false
  /** the last `span` bytes since the last delimiter, to find a delimiter split across chunks */
  let tail = EMPTY

  const overflow = (): void => {
    dropping = true
    parts = []
    held = 0
    sink.overflow()
  }

  /** the frame ends with `last` (the part of this chunk before the delimiter) */
  const end = (last: Buffer): void => {
    if (!dropping) {
      if (held + last.length > maxFrameBytes) overflow()
      // two delimiters in a row make no frame (as serialport's parsers had it: a blank line is not a line)
      else if (held + last.length > 0) sink.frame(parts.length === 0 ? Buffer.from(last) : Buffer.concat([...parts, last], held + last.length))
    }
    parts = []
    held = 0
    dropping = false
    tail = EMPTY
  }

  /** bytes of a frame still open; copied, so a small piece never keeps a whole read buffer alive */
  const keep = (bytes: Buffer): void => {
    if (bytes.length === 0) return
    // the limit is checked with room for a delimiter's first bytes, which `end` removes again
    if (!dropping && held + bytes.length > maxFrameBytes + span) overflow()
    if (!dropping) {
      parts.push(Buffer.from(bytes))
      held += bytes.length
    }
    if (span > 0) tail = bytes.length >= span ? Buffer.from(bytes.subarray(bytes.length - span)) : Buffer.concat([tail, bytes]).subarray(-span)
  }

  /** removes the last `count` bytes held (a delimiter's first bytes) */
  const dropHeld = (count: number): void => {
    let left = count
    while (left > 0 && parts.length > 0) {
      const last = parts[parts.length - 1] ?? EMPTY
      if (last.length <= left) {
        parts.pop()
        left -= last.length
      } else {
        parts[parts.length - 1] = last.subarray(0, last.length - left)
        left = 0
      }
    }
    held = Math.max(0, held - count)
  }

  return {
    push (chunk) {
      let start = 0
      if (span > 0 && tail.length > 0) {
        // a delimiter that began in earlier bytes and ends in this chunk
        const before = tail.length
        const at = Buffer.concat([tail, chunk.subarray(0, span)]).indexOf(delimiter)
        if (at !== -1 && at < before) {
          if (!dropping) dropHeld(before - at)
          end(EMPTY)
          start = at + delimiter.length - before
        }
      }
      for (let at = chunk.indexOf(delimiter, start); at !== -1; at = chunk.indexOf(delimiter, start)) {
        end(chunk.subarray(start, at))
        start = at + delimiter.length
      }
      keep(chunk.subarray(start))
    },
  }
}
