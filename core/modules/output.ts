// A module's stdout and stderr, read with bounds, so that no module can grow the core by what it prints:
// a line is cut at `maxLineBytes` (the rest of it skipped, never held), and an instance may log
// `linesPerSecond` lines on average with bursts of `burst`; the lines over it are dropped and counted, one
// "N lines dropped" line says so, and the core stops reading the instance's stdout and stderr (Unix socket
// pairs, as Node makes its stdio pipes) for a moment, so their buffers fill and the module's own writes slow
// down instead of the core's memory growing.
import type { Readable } from 'node:stream'
import type { LogLevel } from '../sdk/log.js'

export interface OutputLimits {
  linesPerSecond: number
  burst: number
  maxLineBytes: number
}

/** what one module's instances lost to the limits since the gateway started (management `status`) */
export interface OutputCounters {
  linesDropped: number
  linesCut: number
}

export type LineHandler = (level: LogLevel, text: string) => void

const PRIORITY = /^<([0-7])>/
const NEWLINE = 0x0a
/** how long reading pauses once the instance is out of lines: its sockets' buffers hold the rest */
const PAUSE_MS = 100
/** how often a "lines dropped" line is written while an instance keeps going over its rate */
const REPORT_MS = 1000

function levelOf (priority: number): LogLevel {
  if (priority <= 3) return 'error'
  if (priority === 4) return 'warn'
  if (priority <= 6) return 'info'
  return 'debug'
}

/** A token bucket of lines, refilled by the clock (ms). */
function lineBudget (limits: OutputLimits, now: () => number): () => boolean {
  let tokens = limits.burst
  let at = now()
  return () => {
    const t = now()
    tokens = Math.min(limits.burst, tokens + (t - at) * limits.linesPerSecond / 1000)
    at = t
    if (tokens < 1) return false
    tokens -= 1
    return true
  }
}

/**
 * Splits a byte stream into lines of at most `maxLineBytes`, holding no more than that of an unfinished line:
 * a longer line is handed on, marked cut, as soon as it reaches the limit, and its rest skipped to the newline.
 */
function lineSplitter (maxLineBytes: number, onLine: (line: Buffer, cut: boolean) => void): { push (chunk: Buffer): void, end (): void } {
  let held: Buffer[] = []
  let heldBytes = 0
  let skipping = false
  const finish = (cut: boolean): void => {
    let line = held.length === 1 ? held[0] as Buffer : Buffer.concat(held, heldBytes)
    if (!cut && line.at(-1) === 0x0d) line = line.subarray(0, -1) // CRLF
    held = []
    heldBytes = 0
    onLine(line, cut)
  }
  /** a piece of the current line; `copy` when it is the tail of a chunk (a held slice would keep the whole chunk) */
  const take = (piece: Buffer, copy: boolean): void => {
    if (skipping || piece.length === 0) return
    const room = maxLineBytes - heldBytes
    if (piece.length > room) {
      held.push(piece.subarray(0, room))
      heldBytes += room
      skipping = true
      finish(true)
      return
    }
    held.push(copy ? Buffer.from(piece) : piece)
    heldBytes += piece.length
  }
  return {
    push (chunk) {
      let start = 0
      for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
        take(chunk.subarray(start, end), false)
        if (skipping) skipping = false
        else finish(false)
        start = end + 1
      }
      if (start < chunk.length) take(chunk.subarray(start), true)
    },
    end () {
      if (heldBytes > 0) finish(false)
    },
  }
}

/**
 * Reads an instance's stdout (info unless prefixed) and stderr (error unless prefixed) into `onLine`, under
 * `limits`, counting what it drops and cuts in `counters` (shared by the module's instances).
 */
export function readOutput (streams: { stdout: Readable | null, stderr: Readable | null }, limits: OutputLimits, counters: OutputCounters, onLine: LineHandler, now: () => number = Date.now): void {
  const allowed = lineBudget(limits, now)
  const readable = [streams.stdout, streams.stderr].filter((s): s is Readable => s !== null)
  let dropped = 0
  let report: NodeJS.Timeout | undefined
  let paused: NodeJS.Timeout | undefined

  const reportDropped = (): void => {
    report = undefined
    if (dropped === 0) return
    onLine('warn', `${dropped} line(s) dropped: over the limit of ${limits.linesPerSecond} lines/s (burst ${limits.burst})`)
    dropped = 0
  }
  const pause = (): void => {
    if (paused !== undefined) return
    for (const stream of readable) stream.pause()
    paused = setTimeout(() => {
      paused = undefined
      for (const stream of readable) stream.resume()
    }, PAUSE_MS)
  }

  const follow = (stream: Readable, fallback: LogLevel): void => {
    const lines = lineSplitter(limits.maxLineBytes, (line, cut) => {
      if (!allowed()) {
        counters.linesDropped++
        dropped++
        report ??= setTimeout(reportDropped, REPORT_MS).unref()
        pause()
        return
      }
      let text = line.toString('utf8')
      if (cut) {
        counters.linesCut++
        text += ` … [line cut at ${limits.maxLineBytes} bytes]`
      }
      const match = PRIORITY.exec(text)
      if (match === null) onLine(fallback, text)
      else onLine(levelOf(Number(match[1])), text.slice(match[0].length))
    })
    stream.on('data', (chunk: Buffer) => lines.push(chunk))
    stream.once('end', () => lines.end())
  }
  if (streams.stdout !== null) follow(streams.stdout, 'info')
  if (streams.stderr !== null) follow(streams.stderr, 'error')
  // once both streams close (the process and everything it forked are done) the last count is said at once
  let open = readable.length
  for (const stream of readable) {
    stream.once('close', () => {
      if (--open > 0) return
      clearTimeout(paused)
      clearTimeout(report)
      reportDropped()
    })
  }
}
