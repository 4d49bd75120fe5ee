// The core's log: one line per entry on the terminal (coloured per module when it is a TTY), and every
// entry handed to the log store so operators can read and follow module logs over the bus. When stdout is a
// pipe (journald, docker) whose reader falls behind, lines are dropped and counted rather than queued: the
// core never holds more than MAX_STDOUT_PENDING_BYTES for it.
import type { OutputCounters } from './modules/output.js'
import type { LogLevel } from './sdk/log.js'

export interface LogEntry {
  ts: number
  /** `core` or the module name */
  source: string
  instance?: number
  level: LogLevel
  text: string
}

export type LogSink = (entry: LogEntry) => void

export interface CoreLog {
  debug (text: string, fields?: Record<string, unknown>): void
  info (text: string, fields?: Record<string, unknown>): void
  warn (text: string, fields?: Record<string, unknown>): void
  error (text: string, fields?: Record<string, unknown>): void
  /** records a line from a module process */
  record (entry: LogEntry): void
  addSink (sink: LogSink): () => void
  /** what a module's processes lost to the output limits (modules/output.ts), kept per module name */
  lost (source: string): OutputCounters
  /** lines not written to the core's stdout because its reader was behind (or gone) */
  stdoutDropped (): number
}

/** the core's own lines are cut here, as modules' lines are at `defaults.logs.maxLineBytes` */
const MAX_CORE_LINE_CHARS = 8192

/** the most the core queues for a stdout that does not keep up (a pipe; a terminal or file is written at once) */
export const MAX_STDOUT_PENDING_BYTES = 1_048_576

const LEVEL_RANK: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 }
const COLOURS = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94]

/** C0, DEL, C1; the bidirectional marks, embeddings, overrides and isolates; the line and paragraph separators */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * Control characters as `\xNN` (C0, DEL, C1) or `\uNNNN` (bidirectional controls, line separators): a forged
 * newline in a refused topic would otherwise print a forged log line, a module's ESC or CSI (U+009B) would drive
 * the terminal or journal viewer that shows it, and a right-to-left override would show a module's text in an
 * order other than the one it has. The one escape for text from elsewhere on its way to a terminal: the core's
 * log and the CLI (cli/format.ts).
 */
export function visible (text: string): string {
  return text.replace(CONTROL, c => {
    const code = c.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

function formatFields (fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return ''
  return Object.entries(fields).map(([k, v]) => {
    const text = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v)
    return ` ${k}=${/\s/.test(text ?? '') ? JSON.stringify(text) : text}`
  }).join('')
}

/** Writes to the core's stdout unless it is behind: then drops the line, and says how many once it caught up. */
function stdoutWriter (): { write: (line: string) => void, dropped: () => number } {
  let total = 0
  let unsaid = 0
  let closed = false
  // a reader that went away (EPIPE) must not take the core with it: its lines are counted from then on
  process.stdout.on('error', () => { closed = true })
  return {
    write (line) {
      if (closed || process.stdout.writableLength > MAX_STDOUT_PENDING_BYTES) {
        total++
        unsaid++
        return
      }
      if (unsaid > 0) {
        process.stdout.write(`${unsaid} log line(s) dropped: stdout was not read fast enough\n`)
        unsaid = 0
      }
      process.stdout.write(line)
    },
    dropped: () => total,
  }
}

export function createCoreLog (options: { level?: LogLevel, write?: (line: string) => void, colour?: boolean, journal?: boolean } = {}): CoreLog {
  const threshold = LEVEL_RANK[options.level ?? 'info']
  const stdout = options.write === undefined ? stdoutWriter() : { write: options.write, dropped: () => 0 }
  const write = stdout.write
  const lostBy = new Map<string, OutputCounters>()
  const colour = options.colour ?? (process.stdout.isTTY === true && process.env.NO_COLOR === undefined)
  const journal = options.journal ?? (process.env.JOURNAL_STREAM !== undefined && process.env.JOURNAL_STREAM !== '')
  const sinks = new Set<LogSink>()
  const colourOf = new Map<string, number>()

  const paint = (code: number, text: string): string => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)

  // every line, a module's as the core's, is made visible here, once, before anything keeps or shows it:
  // the log store (`core.logs`, its hooks, the uplink), the core's stdout and the journal carry no raw control character
  const record = (raw: LogEntry): void => {
    const entry = { ...raw, text: visible(raw.text) }
    for (const sink of sinks) sink(entry)
    if (LEVEL_RANK[entry.level] > threshold) return
    const time = new Date(entry.ts).toISOString().slice(11, 23)
    const who = entry.instance === undefined ? entry.source : `${entry.source}.${entry.instance}`
    let code = colourOf.get(entry.source)
    if (code === undefined) {
      code = entry.source === 'core' ? 97 : COLOURS[colourOf.size % COLOURS.length] ?? 37
      colourOf.set(entry.source, code)
    }
    const level = entry.level === 'info' ? '' : paint(entry.level === 'error' ? 31 : entry.level === 'warn' ? 33 : 90, `${entry.level} `)
    // under systemd (stdout is the journal) a line starts with its syslog priority, which journald keeps as its level
    const priority = journal ? `<${LEVEL_RANK[entry.level]}>` : ''
    write(`${priority}${paint(90, time)} ${paint(code, who.padEnd(14))} ${level}${entry.text}\n`)
  }
  const at = (level: LogLevel) => (text: string, fields?: Record<string, unknown>): void => {
    // the core's lines quote what clients sent (a refused topic, a client id): cut like a module's line
    // (record() then writes out their control characters, so that no client's bytes start a line of their own)
    let line = text + formatFields(fields)
    if (line.length > MAX_CORE_LINE_CHARS) line = `${line.slice(0, MAX_CORE_LINE_CHARS)} … [line cut at ${MAX_CORE_LINE_CHARS} characters]`
    record({ ts: Date.now(), source: 'core', level, text: line })
  }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    record,
    addSink (sink) {
      sinks.add(sink)
      return () => { sinks.delete(sink) }
    },
    lost (source) {
      let counters = lostBy.get(source)
      if (counters === undefined) lostBy.set(source, counters = { linesDropped: 0, linesCut: 0 })
      return counters
    },
    stdoutDropped: stdout.dropped,
  }
}
