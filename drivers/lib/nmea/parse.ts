// NMEA 0183 sentences from a GNSS receiver: GGA and RMC from any talker. Every line gets an answer, never
// an exception: a sentence, or a rejection with its reason (line noise breaks checksums; a port opened
// mid-sentence yields a torn first line; receivers without a fix send empty fields, which become null).
import type { GgaSentence, NmeaResult, RmcSentence } from './types.js'

const KNOT_MS = 1852 / 3600

const FIX_QUALITY = ['no fix', 'GPS', 'DGPS', 'PPS', 'RTK fixed', 'RTK float', 'estimated', 'manual', 'simulation']

class FieldError extends Error {}

/** XOR of the characters between `$` and `*`, as two upper-case hex digits */
export function nmeaChecksum (body: string): string {
  let sum = 0
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i)
  return sum.toString(16).toUpperCase().padStart(2, '0')
}

function number (value: string | undefined, name: string): number | null {
  if (value === undefined || value === '') return null
  if (!/^[-+]?\d+(\.\d*)?$|^[-+]?\.\d+$/.test(value)) throw new FieldError(`${name} "${value}" is not a number`)
  return Number(value)
}

function integer (value: string | undefined, name: string): number | null {
  const n = number(value, name)
  if (n !== null && !Number.isInteger(n)) throw new FieldError(`${name} "${value}" is not an integer`)
  return n
}

/** 'ddmm.mmmm' or 'dddmm.mmmm' with its hemisphere letter, as signed decimal degrees */
function coordinate (value: string | undefined, hemisphere: string | undefined, axis: 'latitude' | 'longitude'): number | null {
  if ((value ?? '') === '' && (hemisphere ?? '') === '') return null
  const degreeDigits = axis === 'latitude' ? 2 : 3
  const match = new RegExp(`^(\\d{${degreeDigits}})(\\d{2}(?:\\.\\d+)?)$`).exec(value ?? '')
  const positive = axis === 'latitude' ? 'N' : 'E'
  const negative = axis === 'latitude' ? 'S' : 'W'
  if (match === null) throw new FieldError(`${axis} "${value}" is not ${degreeDigits === 2 ? 'ddmm.mmm' : 'dddmm.mmm'}`)
  if (hemisphere !== positive && hemisphere !== negative) throw new FieldError(`${axis} hemisphere "${hemisphere}" is not ${positive} or ${negative}`)
  const degrees = Number(match[1])
  const minutes = Number(match[2])
  const limit = axis === 'latitude' ? 90 : 180
  if (minutes >= 60 || degrees + minutes / 60 > limit) throw new FieldError(`${axis} "${value}" is out of range`)
  const decimal = degrees + minutes / 60
  return hemisphere === negative ? -decimal : decimal
}

/** 'hhmmss' or 'hhmmss.sss' as 'HH:MM:SS.sss' (seconds may be 60 in a leap second) */
function time (value: string | undefined): { text: string, ms: number } | null {
  if (value === undefined || value === '') return null
  const match = /^(\d{2})(\d{2})(\d{2})(\.\d+)?$/.exec(value)
  if (match === null) throw new FieldError(`time "${value}" is not hhmmss.ss`)
  const [h, m, s] = [Number(match[1]), Number(match[2]), Number(match[3])]
  if (h > 23 || m > 59 || s > 60) throw new FieldError(`time "${value}" is out of range`)
  const millis = Math.round(Number(match[4] ?? '0') * 1000)
  const text = `${match[1]}:${match[2]}:${match[3]}.${String(millis).padStart(3, '0')}`
  return { text, ms: ((h * 60 + m) * 60 + s) * 1000 + millis }
}

/** 'ddmmyy' as 'YYYY-MM-DD' and its midnight in ms since the epoch; two-digit years 80..99 are 19xx */
function date (value: string | undefined): { text: string, ms: number } | null {
  if (value === undefined || value === '') return null
  const match = /^(\d{2})(\d{2})(\d{2})$/.exec(value)
  if (match === null) throw new FieldError(`date "${value}" is not ddmmyy`)
  const [day, month, yy] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const year = yy >= 80 ? 1900 + yy : 2000 + yy
  const ms = Date.UTC(year, month - 1, day)
  const check = new Date(ms)
  if (month < 1 || month > 12 || check.getUTCDate() !== day) throw new FieldError(`date "${value}" is not a calendar date`)
  return { text: check.toISOString().slice(0, 10), ms }
}

function parseGga (talker: string, f: string[]): GgaSentence {
  const quality = integer(f[6], 'fix quality') ?? 0
  return {
    type: 'GGA',
    talker,
    time: time(f[1])?.text ?? null,
    latitude: coordinate(f[2], f[3], 'latitude'),
    longitude: coordinate(f[4], f[5], 'longitude'),
    fixQuality: quality,
    fixQualityName: FIX_QUALITY[quality] ?? `unknown (${quality})`,
    satellites: integer(f[7], 'satellites'),
    hdop: number(f[8], 'HDOP'),
    altitude: number(f[9], 'altitude'),
    geoidSeparation: number(f[11], 'geoid separation'),
    dgpsAge: number(f[13], 'DGPS age'),
    dgpsStation: f[14] === undefined || f[14] === '' ? null : f[14],
  }
}

function parseRmc (talker: string, f: string[]): RmcSentence {
  const status = f[2]
  if (status !== 'A' && status !== 'V') throw new FieldError(`status "${status}" is not A or V`)
  const t = time(f[1])
  const d = date(f[9])
  const knots = number(f[7], 'speed')
  const variation = number(f[10], 'magnetic variation')
  if (variation !== null && f[11] !== 'E' && f[11] !== 'W') throw new FieldError(`magnetic variation direction "${f[11]}" is not E or W`)
  return {
    type: 'RMC',
    talker,
    time: t?.text ?? null,
    date: d?.text ?? null,
    timestamp: t !== null && d !== null ? d.ms + t.ms : null,
    valid: status === 'A',
    latitude: coordinate(f[3], f[4], 'latitude'),
    longitude: coordinate(f[5], f[6], 'longitude'),
    speedKnots: knots,
    speedMs: knots === null ? null : knots * KNOT_MS,
    course: number(f[8], 'course'),
    magneticVariation: variation === null ? null : f[11] === 'W' ? -variation : variation,
    mode: f[12] === undefined || f[12] === '' ? null : f[12],
  }
}

/**
 * One line from the receiver (with or without its CR LF). Anything before the last `$` is ignored, so a
 * line with binary (UBX) bytes in front still parses. Without `requireChecksum: false`, a sentence with
 * no checksum is rejected too.
 */
export function parseNmea (line: string, options: { requireChecksum?: boolean } = {}): NmeaResult {
  const reject = (reason: 'checksum' | 'malformed' | 'unsupported', message: string): NmeaResult => ({ ok: false, reason, message, line })
  const start = line.lastIndexOf('$')
  if (start === -1) return reject('malformed', 'no "$" starts a sentence')
  const sentence = line.slice(start).trimEnd()
  const star = sentence.indexOf('*')
  const body = sentence.slice(1, star === -1 ? undefined : star)
  if (star === -1) {
    if (options.requireChecksum !== false) return reject('checksum', 'no checksum')
  } else {
    const given = sentence.slice(star + 1)
    if (!/^[0-9A-Fa-f]{2}$/.test(given)) return reject('checksum', `checksum "${given}" is not two hex digits`)
    const computed = nmeaChecksum(body)
    if (given.toUpperCase() !== computed) return reject('checksum', `checksum ${given} does not match ${computed}`)
  }
  const fields = body.split(',')
  const address = fields[0] ?? ''
  if (/^P[A-Z0-9]{3,}$/.test(address)) return reject('unsupported', `${address} is a proprietary sentence`)
  if (!/^[A-Z]{5}$/.test(address)) return reject('malformed', `"${address}" is not a talker and sentence type`)
  const talker = address.slice(0, 2)
  const type = address.slice(2)
  try {
    if (type === 'GGA') return { ok: true, sentence: parseGga(talker, fields) }
    if (type === 'RMC') return { ok: true, sentence: parseRmc(talker, fields) }
  } catch (err) {
    if (err instanceof FieldError) return reject('malformed', `${address}: ${err.message}`)
    throw err
  }
  return reject('unsupported', `${type} sentences are not decoded`)
}
