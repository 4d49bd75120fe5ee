// Framing with serialport's bundled parsers (incoming) and the matching encoding (outgoing).
import { ByteLengthParser, DelimiterParser, ReadlineParser, SlipDecoder, SlipEncoder } from 'serialport'
import type { Transform } from 'node:stream'
import { OutpostError } from '../../../core/errors.js'
import type { Framing } from './types.js'

export interface Decoder {
  push (chunk: Buffer): void
  /** drops any partial frame; nothing is emitted afterwards */
  destroy (): void
}

export function checkFraming (framing: Framing): void {
  const bad = (why: string): never => { throw new OutpostError('BAD_ARGUMENTS', `serial framing ${JSON.stringify(framing)}: ${why}`) }
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

function parserFor (framing: Framing): Transform | undefined {
  switch (framing.type) {
    case 'line': return new ReadlineParser({ delimiter: framing.delimiter ?? '\n', encoding: framing.encoding ?? 'utf8' })
    case 'delimiter': return new DelimiterParser({ delimiter: framing.delimiter })
    case 'fixed': return new ByteLengthParser({ length: framing.length })
    case 'slip': return new SlipDecoder()
    case 'raw': return undefined
  }
}

/** a fresh decoder per open: a partial frame from before an unplug must not be glued to the next bytes */
export function createDecoder (framing: Framing, onFrame: (frame: Buffer | string) => void): Decoder {
  const parser = parserFor(framing)
  if (parser === undefined) return { push: onFrame, destroy () {} }
  const stripCr = framing.type === 'line' && (framing.delimiter ?? '\n') === '\n'
  parser.on('data', (frame: Buffer | string) => {
    onFrame(stripCr && typeof frame === 'string' && frame.endsWith('\r') ? frame.slice(0, -1) : frame)
  })
  // the parsers only throw on bad construction options; keep a stray error from being unhandled
  parser.on('error', () => {})
  return {
    push (chunk) { parser.write(chunk) },
    destroy () {
      parser.removeAllListeners('data')
      parser.destroy()
    },
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
