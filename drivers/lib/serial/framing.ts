// Framing of incoming bytes (our bounded splitter and SLIP decoder; serialport's ByteLengthParser for fixed
// frames) and the matching encoding of outgoing frames.
import { ByteLengthParser, SlipEncoder } from 'serialport'
import { OutpostError } from '../../../core/errors.js'
import { createSlipDecoder } from './slip.js'
import { createSplitter } from './split.js'
import type { FrameSink } from './split.js'
import type { Logger } from '../../../core/sdk/log.js'
import type { Framing } from './types.js'

/** the longest frame kept by line, delimiter and SLIP framing unless the framing says otherwise */
export const DEFAULT_MAX_FRAME_BYTES = 65_536
/** the largest limit a framing may ask for */
const MAX_FRAME_LIMIT = 16 * 1024 * 1024

export interface Decoder {
  push (chunk: Buffer): void
  /** drops any partial frame; nothing is emitted afterwards */
  destroy (): void
}

export function checkFraming (framing: Framing): void {
  const bad = (why: string): never => { throw new OutpostError('BAD_ARGUMENTS', `serial framing ${JSON.stringify(framing)}: ${why}`) }
  const limit = (framing as { maxFrameBytes?: unknown }).maxFrameBytes
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_FRAME_LIMIT)) bad(`maxFrameBytes must be an integer 1..${MAX_FRAME_LIMIT}`)
  switch (framing.type) {
    case 'line':
      if (framing.delimiter !== undefined && framing.delimiter !== '\n' && framing.delimiter !== '\r\n') bad('delimiter must be "\\n" or "\\r\\n"')
      return
    case 'delimiter':
      if (framing.delimiter.length === 0) bad('delimiter must not be empty')
      return
    case 'fixed':
      if (!Number.isInteger(framing.length) || framing.length < 1) bad('length must be a positive integer')
      return
    case 'slip':
    case 'raw':
      return
    default:
      bad('unknown framing type')
  }
}

/**
 * A fresh decoder per open: a partial frame from before an unplug must not be glued to the next bytes.
 * `onOverflow` hears of every frame dropped for growing past the framing's `maxFrameBytes`.
 */
export function createDecoder (framing: Framing, onFrame: (frame: Buffer | string) => void, onOverflow: () => void = () => {}): Decoder {
  let live = true
  const max = 'maxFrameBytes' in framing ? framing.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES : DEFAULT_MAX_FRAME_BYTES
  const sink = (emit: (frame: Buffer) => void): FrameSink => ({
    frame: frame => { if (live) emit(frame) },
    overflow: () => { if (live) onOverflow() },
  })
  const decoderOf = (push: (chunk: Buffer) => void): Decoder => ({
    push: chunk => { if (live) push(chunk) },
    destroy () { live = false },
  })
  switch (framing.type) {
    case 'line': {
      const encoding = framing.encoding ?? 'utf8'
      const delimiter = framing.delimiter ?? '\n'
      // with "\n", a CR before it goes too
      const stripCr = delimiter === '\n'
      const splitter = createSplitter(Buffer.from(delimiter, encoding), max, sink(frame => {
        const end = stripCr && frame.length > 0 && frame[frame.length - 1] === 0x0d ? frame.length - 1 : frame.length
        onFrame(frame.toString(encoding, 0, end))
      }))
      return decoderOf(chunk => { splitter.push(chunk) })
    }
    case 'delimiter': {
      const splitter = createSplitter(Buffer.from(framing.delimiter), max, sink(onFrame))
      return decoderOf(chunk => { splitter.push(chunk) })
    }
    case 'slip': {
      const slip = createSlipDecoder(max, sink(onFrame))
      return decoderOf(chunk => { slip.push(chunk) })
    }
    case 'fixed': {
      const parser = new ByteLengthParser({ length: framing.length })
      parser.on('data', (frame: Buffer) => { if (live) onFrame(frame) })
      // the parser only throws on bad construction options; keep a stray error from being unhandled
      parser.on('error', () => {})
      return {
        push: chunk => { if (live) parser.write(chunk) },
        destroy () {
          live = false
          parser.removeAllListeners('data')
          parser.destroy()
        },
      }
    }
    case 'raw':
      return decoderOf(onFrame)
  }
}

const OVERFLOW_LOG_EVERY_MS = 60_000

/**
 * What to call on every frame dropped for its length: a warning for the first one, then at most one a
 * minute, naming how many were dropped since (a device streaming without delimiters must not flood the log).
 */
export function overflowReporter (log: Logger | undefined, what: string, limit: number): () => void {
  let lastLog = -Infinity
  let unlogged = 0
  return () => {
    unlogged++
    const now = performance.now()
    if (now - lastLog < OVERFLOW_LOG_EVERY_MS) return
    log?.warn(`${what}: dropped ${unlogged} frame(s) longer than ${limit} bytes (no delimiter in time)`)
    lastLog = now
    unlogged = 0
  }
}

/** the bytes that carry one outgoing frame */
export function createEncoder (framing: Framing): (data: Buffer | string) => Buffer {
  switch (framing.type) {
    case 'line': {
      const encoding = framing.encoding ?? 'utf8'
      const end = Buffer.from(framing.delimiter ?? '\n', encoding)
      return data => Buffer.concat([typeof data === 'string' ? Buffer.from(data, encoding) : data, end])
    }
    case 'delimiter': {
      const end = Buffer.from(framing.delimiter)
      return data => Buffer.concat([Buffer.from(data), end])
    }
    case 'slip': {
      // SlipEncoder's transform is synchronous and pure; calling it directly encodes one packet per write
      // instead of routing writes through a stream, so each write keeps its own completion and timeout.
      const encoder = new SlipEncoder()
      return data => {
        let out: Buffer = Buffer.alloc(0)
        encoder._transform(Buffer.from(data), 'binary', (_err, chunk: Buffer) => { out = chunk })
        return out
      }
    }
    case 'fixed':
    case 'raw':
      return data => Buffer.from(data)
  }
}
