// The core's log: one line per entry on the terminal (coloured per module when it is a TTY), and every
// entry handed to the log store so operators can read and follow module logs over the bus.
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
}

const LEVEL_RANK: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 }
const COLOURS = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94]

function formatFields (fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return ''
  return Object.entries(fields).map(([k, v]) => {
    const text = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v)
    return ` ${k}=${/\s/.test(text ?? '') ? JSON.stringify(text) : text}`
  }).join('')
}

export function createCoreLog (options: { level?: LogLevel, write?: (line: string) => void, colour?: boolean, journal?: boolean } = {}): CoreLog {
  const threshold = LEVEL_RANK[options.level ?? 'info']
  const write = options.write ?? ((line: string) => { process.stdout.write(line) })
  const colour = options.colour ?? (process.stdout.isTTY === true && process.env.NO_COLOR === undefined)
  const journal = options.journal ?? (process.env.JOURNAL_STREAM !== undefined && process.env.JOURNAL_STREAM !== '')
  const sinks = new Set<LogSink>()
  const colourOf = new Map<string, number>()

  const paint = (code: number, text: string): string => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)

  const record = (entry: LogEntry): void => {
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
    record({ ts: Date.now(), source: 'core', level, text: text + formatFields(fields) })
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
  }
}
