import type { OutpostError } from '../../../core/errors.js'
import type { Logger } from '../../../core/sdk/log.js'

/** How the byte stream is cut into frames, both ways: `write(frame)` sends one frame in the same framing.
 * Line, delimiter and SLIP frames longer than `maxFrameBytes` (default 65536, at most 16 MiB) are dropped up
 * to the next delimiter, counted in `stats.framesTooLong` and logged. */
export type Framing =
  /** text lines; frames are strings without the delimiter (with `\n`, a trailing `\r` is dropped too) */
  | { type: 'line', delimiter?: '\n' | '\r\n', encoding?: BufferEncoding, maxFrameBytes?: number }
  /** frames end with a byte sequence; frames are Buffers without it */
  | { type: 'delimiter', delimiter: Buffer | string, maxFrameBytes?: number }
  /** frames of a fixed number of bytes; writes are sent as they are */
  | { type: 'fixed', length: number }
  /** RFC 1055 SLIP packets; frames are decoded Buffers, writes are encoded */
  | { type: 'slip', maxFrameBytes?: number }
  /** chunks as the OS delivers them; writes are sent as they are */
  | { type: 'raw' }

/** line framing yields strings, every other framing Buffers */
export type FrameOf<F extends Framing> = F extends { type: 'line' } ? string : Buffer

export interface ReopenPolicy {
  initialMs: number
  maxMs: number
  factor: number
}

export interface SerialOptions<F extends Framing = Framing> {
  /** e.g. /dev/ttyUSB0, or better a stable /dev/serial/by-id/... link */
  path: string
  baudRate: number
  dataBits?: 5 | 6 | 7 | 8
  parity?: 'none' | 'even' | 'odd' | 'mark' | 'space'
  stopBits?: 1 | 1.5 | 2
  framing: F
  /** delays between open attempts after a failure or a disconnect; reset by a successful open */
  reopen?: Partial<ReopenPolicy>
  /** a write not handed to the OS within this time fails with SERIAL_WRITE_TIMEOUT (default 2000) */
  writeTimeoutMs?: number
  /** how often the device path is checked while open, and while waiting to reopen (default 500) */
  watchIntervalMs?: number
  log?: Logger
}

/**
 * - `disconnected`: serialport reported the device gone (read or write failed)
 * - `vanished`: the device path disappeared while the port was open
 * - `replaced`: the device path now leads to a different device (replugged, renumbered)
 * - `closed`: `close()` was called
 */
export type CloseReason = 'disconnected' | 'vanished' | 'replaced' | 'closed'

export interface CloseEvent {
  reason: CloseReason
  /** SERIAL_DISCONNECTED for every reason but `closed` */
  error?: OutpostError
}

export interface SerialEvents<Frame> {
  open: []
  close: [CloseEvent]
  frame: [Frame]
  error: [OutpostError]
}

export interface SerialStats {
  openAttempts: number
  opens: number
  closes: number
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  writeTimeouts: number
  /** frames dropped for growing past the framing's maxFrameBytes (line, delimiter and SLIP framing) */
  framesTooLong: number
}

export interface ManagedSerial<Frame = Buffer | string> {
  readonly path: string
  /** true while a port is open and not being closed */
  readonly isOpen: boolean
  readonly stats: Readonly<SerialStats>
  /** returns a function that removes the listener */
  on<E extends keyof SerialEvents<Frame>> (event: E, listener: (...args: SerialEvents<Frame>[E]) => void): () => void
  off<E extends keyof SerialEvents<Frame>> (event: E, listener: (...args: SerialEvents<Frame>[E]) => void): void
  /** queues one frame; rejects with SERIAL_DISCONNECTED when the port is not open or goes away first */
  write (data: Buffer | string): Promise<void>
  /** closes for good; idempotent */
  close (): Promise<void>
}
