// A serial port that survives its hardware: a missing port at start, an unplug, a replug to a new device
// node, a port serialport itself lost track of. The port is never the process's problem: failures become
// `close` and `error` events, and the port is reopened with exponential back-off until `close()`.
// A fresh SerialPort object is made for every open, so nothing of a dead connection (queued writes, a read
// waiting for 'open', a partial frame) leaks into the next one.
import { SerialPort } from 'serialport'
import { OutpostError } from '../../../core/errors.js'
import type { ErrorCode } from '../../../core/errors.js'
import { createEmitter } from './emitter.js'
import { classifyOpenError } from './errors.js'
import { DEFAULT_MAX_FRAME_BYTES, checkFraming, createDecoder, createEncoder, overflowReporter } from './framing.js'
import type { Decoder } from './framing.js'
import { describeSettings, readSettings, settingsNotTaken } from './settings.js'
import type { PortSettings } from './settings.js'
import { identify, sameDevice } from './watch.js'
import type { DeviceIdentity } from './watch.js'
import { createWriteQueue } from './write-queue.js'
import type { CloseReason, FrameOf, Framing, ManagedSerial, ReopenPolicy, SerialEvents, SerialOptions, SerialStats } from './types.js'

export type { CloseEvent, CloseReason, FrameOf, Framing, ManagedSerial, ReopenPolicy, SerialEvents, SerialOptions, SerialStats } from './types.js'
export { classifyOpenError, permissionHint } from './errors.js'

export const DEFAULT_REOPEN: ReopenPolicy = { initialMs: 250, maxMs: 10_000, factor: 2 }
const DEFAULT_WRITE_TIMEOUT_MS = 2000
const DEFAULT_WATCH_INTERVAL_MS = 500
/** how long close() waits for the OS to close a port before giving up on it */
const CLOSE_WAIT_MS = 2000

interface Connection {
  port: SerialPort
  decoder: Decoder
  identity: DeviceIdentity
}

function checkOptions (options: SerialOptions): void {
  const bad = (why: string): never => { throw new OutpostError('BAD_ARGUMENTS', `serial port ${options.path}: ${why}`, { details: { path: options.path } }) }
  if (typeof options.path !== 'string' || options.path === '') bad('path must be a non-empty string')
  if (!Number.isInteger(options.baudRate) || options.baudRate <= 0) bad(`baudRate must be a positive integer, not ${options.baudRate}`)
  if (options.dataBits !== undefined && ![5, 6, 7, 8].includes(options.dataBits)) bad('dataBits must be 5, 6, 7 or 8')
  if (options.stopBits !== undefined && ![1, 1.5, 2].includes(options.stopBits)) bad('stopBits must be 1, 1.5 or 2')
  if (options.parity !== undefined && !['none', 'even', 'odd', 'mark', 'space'].includes(options.parity)) bad('parity must be none, even, odd, mark or space')
  const reopen = { ...DEFAULT_REOPEN, ...options.reopen }
  if (!(reopen.initialMs > 0 && reopen.maxMs >= reopen.initialMs && reopen.factor >= 1)) bad('reopen needs initialMs > 0, maxMs >= initialMs and factor >= 1')
  checkFraming(options.framing)
}

export function openSerial<F extends Framing> (options: SerialOptions<F>): ManagedSerial<FrameOf<F>> {
  checkOptions(options)
  const { path, log } = options
  const reopen: ReopenPolicy = { ...DEFAULT_REOPEN, ...options.reopen }
  const watchMs = options.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS
  const events = createEmitter<SerialEvents<FrameOf<F>>>()
  const encode = createEncoder(options.framing)
  const stats: SerialStats = { openAttempts: 0, opens: 0, closes: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, writeTimeouts: 0, framesTooLong: 0 }
  const reportTooLong = overflowReporter(log, `serial port ${path}`, 'maxFrameBytes' in options.framing ? options.framing.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES : DEFAULT_MAX_FRAME_BYTES)
  const writes = createWriteQueue({
    path,
    timeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
    onTimeout: () => { stats.writeTimeouts++ },
    onSent: bytes => { stats.bytesOut += bytes; stats.framesOut++ },
  })

  let phase: 'opening' | 'open' | 'waiting' | 'closed' = 'opening'
  let conn: Connection | undefined
  /** failed opens and losses since the last successful open: the back-off exponent */
  let failures = 0
  /** the failure last reported as an `error` event; the same failure on later retries is only logged */
  let reported: ErrorCode | undefined
  let retryTimer: NodeJS.Timeout | undefined
  /** polls the device path: its identity while open, its appearance while waiting */
  let pathTicker: NodeJS.Timeout | undefined
  let opening: Promise<void> | undefined
  let closing: Promise<void> | undefined

  const disconnected = (message: string, cause?: unknown): OutpostError =>
    new OutpostError('SERIAL_DISCONNECTED', message, { details: { path }, cause })

  const stopTimers = (): void => {
    clearTimeout(retryTimer)
    clearInterval(pathTicker)
    retryTimer = undefined
    pathTicker = undefined
  }

  const retire = (port: SerialPort, decoder?: Decoder): Promise<void> => {
    decoder?.destroy()
    port.removeAllListeners('data')
    port.removeAllListeners('close')
    if (!port.isOpen) return Promise.resolve()
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        log?.warn('serial port did not close in time; abandoning it', { path })
        resolve()
      }, CLOSE_WAIT_MS)
      port.close(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  const scheduleRetry = (): void => {
    stopTimers()
    phase = 'waiting'
    const delay = Math.min(reopen.maxMs, reopen.initialMs * reopen.factor ** failures)
    failures++
    retryTimer = setTimeout(tryOpen, delay)
    // a device that reappears is tried without waiting for the end of a long back-off, one tick after it
    // appeared: udev gives a new node its group and mode a moment after creating it
    let seen: 'absent' | 'appeared' | 'present' = identify(path) === undefined ? 'absent' : 'present'
    pathTicker = setInterval(() => {
      if (identify(path) === undefined) seen = 'absent'
      else if (seen === 'absent') seen = 'appeared'
      else if (seen === 'appeared') tryOpen()
    }, watchMs)
  }

  const failed = (error: OutpostError): void => {
    scheduleRetry()
    if (error.code === reported) {
      log?.debug('serial port still unavailable', { path, error: error.message })
      return
    }
    reported = error.code
    log?.warn(error.message)
    events.emit('error', error)
  }

  const lose = (reason: Exclude<CloseReason, 'closed'>, error: OutpostError): void => {
    const lost = conn
    if (phase !== 'open' || lost === undefined) return
    conn = undefined
    stats.closes++
    writes.failAll(error)
    void retire(lost.port, lost.decoder)
    scheduleRetry()
    log?.warn('serial port closed', { path, reason })
    events.emit('close', { reason, error })
  }

  const checkIdentity = (): void => {
    if (conn === undefined) return
    const now = identify(path)
    if (now === undefined) {
      lose('vanished', disconnected(`serial port ${path} vanished while open`))
    } else if (!sameDevice(now, conn.identity)) {
      lose('replaced', disconnected(`serial port ${path} now leads to another device (${conn.identity.target} became ${now.target})`))
    }
  }

  const wanted: PortSettings = { baudRate: options.baudRate, dataBits: options.dataBits ?? 8, parity: options.parity ?? 'none', stopBits: options.stopBits ?? 1 }
  /** said once: the settings could not be read back on this port */
  let unverifiedSaid = false

  const attach = (port: SerialPort, identity: DeviceIdentity, verified: boolean): void => {
    const decoder = createDecoder(options.framing, frame => {
      stats.framesIn++
      events.emit('frame', frame as FrameOf<F>)
    }, () => {
      stats.framesTooLong++
      reportTooLong()
    })
    conn = { port, decoder, identity }
    phase = 'open'
    failures = 0
    reported = undefined
    stats.opens++
    port.on('data', (chunk: Buffer) => {
      stats.bytesIn += chunk.length
      decoder.push(chunk)
    })
    // serialport emits `close` twice after a failed write (the stream's destroy, then its own close):
    // only the first one for the current port counts
    port.on('close', (err: Error | null) => {
      if (conn?.port !== port) return
      lose('disconnected', disconnected(`serial port ${path} disconnected${err === null || err === undefined ? '' : ` (${err.message})`}`, err ?? undefined))
    })
    pathTicker = setInterval(checkIdentity, watchMs)
    writes.attach((data, done) => { port.write(data, err => { done(err) }) })
    log?.info('serial port open', { path, settings: describeSettings(wanted), verified })
    events.emit('open')
  }

  function tryOpen (): void {
    stopTimers()
    phase = 'opening'
    stats.openAttempts++
    const port = new SerialPort({
      path,
      baudRate: options.baudRate,
      dataBits: options.dataBits ?? 8,
      parity: options.parity ?? 'none',
      stopBits: options.stopBits ?? 1,
      autoOpen: false,
    })
    // failures reach this layer through callbacks and `close`; the listener keeps a stray `error` (from a
    // failed write, say) from being thrown out of the event loop
    port.on('error', err => { log?.debug('serial port error', { path, error: err }) })
    opening = new Promise<void>(resolve => {
      port.open(err => {
        if (phase === 'closed') {
          opening = undefined
          void (err === null ? retire(port) : Promise.resolve()).then(resolve)
          return
        }
        if (err !== null) {
          opening = undefined
          failed(classifyOpenError(err, path))
          resolve()
          return
        }
        // the settings read back before the port is used: a setting the port did not take fails loudly
        void readSettings(path).then(back => {
          opening = undefined
          if (phase === 'closed') {
            void retire(port).then(resolve)
            return
          }
          const identity = identify(path)
          const wrong = 'settings' in back ? settingsNotTaken(wanted, back.settings) : []
          if (identity === undefined) {
            void retire(port)
            failed(new OutpostError('SERIAL_NOT_FOUND', `serial port ${path} vanished while being opened`, { details: { path } }))
          } else if (wrong.length > 0) {
            void retire(port)
            failed(new OutpostError('SERIAL_SETTINGS', `serial port ${path} did not take ${wrong.join(', ')}: not used (asked ${describeSettings(wanted)}; a PTY has only 8 data bits and no parity, and some USB adapters lack mark/space parity)`, { details: { path, wanted, notTaken: wrong } }))
          } else {
            if ('unreadable' in back && !unverifiedSaid) {
              unverifiedSaid = true
              log?.warn(`serial port ${path}: settings could not be read back, so ${describeSettings(wanted)} is asked but not verified (${back.unreadable})`)
            }
            attach(port, identity, 'settings' in back)
          }
          resolve()
        })
      })
    })
  }

  tryOpen()

  return {
    path,
    get isOpen () { return phase === 'open' },
    get stats () { return { ...stats } },
    on: events.on,
    off: events.off,
    write (data) {
      if (phase !== 'open') {
        return Promise.reject(disconnected(phase === 'closed' ? `serial port ${path} is closed` : `serial port ${path} is not open (waiting to reopen)`))
      }
      return writes.push(encode(data))
    },
    close () {
      if (closing !== undefined) return closing
      phase = 'closed'
      stopTimers()
      writes.failAll(disconnected(`serial port ${path} was closed`))
      const lost = conn
      conn = undefined
      const pendingOpen = opening
      closing = (async () => {
        if (lost !== undefined) {
          await retire(lost.port, lost.decoder)
          stats.closes++
          log?.info('serial port closed', { path, reason: 'closed' })
          events.emit('close', { reason: 'closed' })
        } else if (pendingOpen !== undefined) {
          await pendingOpen
        }
      })()
      return closing
    },
  }
}
