// Terminal output for the CLI: colours only on a terminal (and never with NO_COLOR or --json), aligned tables,
// readable sizes and durations, and nothing a gateway, a module or a fleet's upstream sent that a terminal
// would act on.
import { encode } from '../protocol/codec.js'
import { visible } from '../log.js'

/**
 * `value` with every string in it (keys too) passed through `visible` (log.ts): control characters as `\xNN`.
 * What comes off the wire goes through here before it is printed as text (command.ts `print`), since any
 * module, and through a fleet's upstream any gateway, can put ESC or CSI in a name, a reason or a message.
 * Anything else a decoder can make (a date, a `Tag` of cbor-x) becomes its text, escaped: whatever prints it
 * then prints text.
 */
export function printable<T> (value: T): T {
  if (typeof value === 'string') return visible(value) as T
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(printable) as T
  if (value instanceof Uint8Array) return value // byte strings: printed as base64 (jsonText)
  if ([Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [visible(k), printable(v)])) as T
  }
  return visible(String(value)) as T
}

/**
 * JSON.stringify escapes C0 but writes DEL, C1 (U+0080–U+009F, which a terminal may take for ESC and CSI),
 * U+2028/U+2029 (line breaks to JavaScript before ES2019) and the bidirectional controls as they are: they are
 * written as `\uXXXX`, the same JSON value, so that `--json` output on a terminal is as inert as the text.
 */
const JSON_UNSAFE = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** JSON text as the CLI prints it: byte strings as base64 (as in a JSON reply from the gateway), nothing a terminal acts on */
export function jsonText (value: unknown, pretty = false): string {
  const text = encode(value, 'json').toString()
  return (pretty ? JSON.stringify(JSON.parse(text), null, 2) : text).replace(JSON_UNSAFE, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export interface Style {
  colour: boolean
  paint (code: number, text: string): string
  state (state: string): string
}

const STATE_COLOURS: Record<string, number> = { running: 32, starting: 36, stopping: 33, backoff: 33, stopped: 90, failed: 31 }

export function styleFor (stream: NodeJS.WriteStream, json: boolean): Style {
  const colour = !json && stream.isTTY === true && process.env.NO_COLOR === undefined
  const paint = (code: number, text: string): string => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)
  return { colour, paint, state: state => paint(STATE_COLOURS[state] ?? 37, state) }
}

const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g

/** printed width: escape sequences take no room */
export function visibleLength (text: string): number {
  return text.replace(ESCAPES, '').length
}

/** `text` cut to `width` characters, the last of them then `…` */
export function cut (text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`
}

export function pad (text: string, width: number, right = false): string {
  const room = Math.max(0, width - visibleLength(text))
  return right ? ' '.repeat(room) + text : text + ' '.repeat(room)
}

/** Columns sized to their widest cell; `right` lists columns aligned right (numbers). */
export function table (header: string[], rows: string[][], options: { right?: number[], style?: Style } = {}): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => visibleLength(r[i] ?? ''))))
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i] ?? 0, options.right?.includes(i))).join('  ').trimEnd()
  const head = line(header)
  return [options.style === undefined ? head : options.style.paint(1, head), ...rows.map(line)].join('\n') + '\n'
}

// Sizes, durations and times below come from the wire: absent is "-", a value of another type or out of range
// is "?", and none of them throws, whatever it is handed.

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)

export function bytes (value: unknown): string {
  if (value === null || value === undefined) return '-'
  if (!isNumber(value)) return '?'
  const mib = value / (1024 * 1024)
  if (Math.abs(mib) >= 1024) return `${(mib / 1024).toFixed(1)} GiB`
  if (Math.abs(mib) >= 10) return `${mib.toFixed(0)} MiB`
  return `${mib.toFixed(1)} MiB`
}

export function duration (ms: unknown): string {
  if (ms === null || ms === undefined) return '-'
  if (!isNumber(ms)) return '?'
  if (ms < 0) return `-${duration(-ms)}`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  const d = Math.floor(h / 24)
  return d > 99_999 ? '>99999d' : `${d}d${String(h % 24).padStart(2, '0')}h`
}

export interface ExitDoc { at: number, code: number | null, signal: string | null, reason: string }

export function lastExit (exit: ExitDoc | null | undefined, now = Date.now()): string {
  if (exit === null || exit === undefined) return '-'
  if (typeof exit !== 'object') return '?'
  const how = exit.reason === 'exit-code' ? `exit ${exit.code}` : exit.reason === 'signal' ? `${exit.signal}` : String(exit.reason)
  return `${how}, ${isNumber(exit.at) ? duration(now - exit.at) : '?'} ago`
}

/** a time of day (UTC) to the millisecond; "?" for anything that is not a time */
export function clock (ts: unknown): string {
  const date = new Date(isNumber(ts) ? ts : NaN)
  return Number.isNaN(date.getTime()) ? '??:??:??.???' : date.toISOString().slice(11, 23)
}

/** a date and time (ISO 8601, UTC); "?" for anything that is not a time */
export function isoTime (ts: unknown): string {
  const date = new Date(isNumber(ts) ? ts : NaN)
  return Number.isNaN(date.getTime()) ? '?' : date.toISOString()
}

/** a number to `digits` decimals, "?" when it is not one (a load average, a rate) */
export function fixed (value: unknown, digits: number): string {
  return isNumber(value) ? value.toFixed(digits) : '?'
}
