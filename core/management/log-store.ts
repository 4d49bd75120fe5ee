// The recent log lines of the core and of every module, kept in memory for `logs`, numbered so a caller
// that polls (a shell script with mosquitto_pub) can ask for what came after the last line it saw.
import type { LogEntry } from '../log.js'
import type { LogLevel } from '../sdk/log.js'

export interface LogLine extends LogEntry {
  /** gateway-wide line number, increasing */
  seq: number
}

/**
 * characters of line text one answer holds at most (the newest lines that fit): 1000 lines of a module's
 * longest, once written out, would make a reply over the 16 MiB a CLI reads in one packet (cli/connect.ts);
 * this makes one of at most ≈ 6.5 MiB of UTF-8, whatever the lines hold
 */
export const MAX_TAIL_CHARS = 2_097_152

export interface LogQuery {
  /** `core` or a module name; all sources when absent */
  source?: string
  /** at most this many of the newest matching lines */
  lines: number
  /** only lines with seq greater than this */
  since?: number
  /** this level and more severe */
  level?: LogLevel
}

export interface LogStore {
  add (entry: LogEntry): LogLine
  /** `omitted`: older matching lines left out to stay within MAX_TAIL_CHARS (present when there are any) */
  tail (query: LogQuery): { lines: LogLine[], next: number, omitted?: number }
  /** forgets a removed module's lines */
  drop (source: string): void
}

const RANK: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 }

/**
 * keeps the newest `perSource` lines of each source (up to 25 % more between trims): a chatty module cannot
 * push out another's history, and as every line is cut before it gets here (modules/output.ts, log.ts), a
 * source holds at most 625 lines of at most `defaults.logs.maxLineBytes` (core: 8192 characters); once log.ts has
 * written out their control characters, a line is at most four characters per byte (`\xNN` for one byte of C0,
 * `\uNNNN` for the three of a bidirectional control), six per character of the core's own
 */
export function createLogStore (perSource = 500): LogStore {
  const bySource = new Map<string, LogLine[]>()
  let seq = 0
  return {
    add (entry) {
      const line: LogLine = { ...entry, seq: ++seq }
      let lines = bySource.get(entry.source)
      if (lines === undefined) bySource.set(entry.source, lines = [])
      lines.push(line)
      if (lines.length > perSource * 1.25) lines.splice(0, lines.length - perSource) // trim in batches
      return line
    },
    tail ({ source, lines, since, level }) {
      const pools = source === undefined ? [...bySource.values()] : [bySource.get(source) ?? []]
      const threshold = RANK[level ?? 'debug']
      const matching = pools.flat()
        .filter(l => (since === undefined || l.seq > since) && RANK[l.level] <= threshold)
        .sort((a, b) => a.seq - b.seq)
        .slice(-lines)
      let first = matching.length
      for (let chars = 0; first > 0; first--) {
        chars += (matching[first - 1] as LogLine).text.length
        if (chars > MAX_TAIL_CHARS) break
      }
      return first === 0 ? { lines: matching, next: seq } : { lines: matching.slice(first), next: seq, omitted: first }
    },
    drop (source) {
      bySource.delete(source)
    },
  }
}
