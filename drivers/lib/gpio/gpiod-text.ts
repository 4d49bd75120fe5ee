// What the Debian gpiod tools take and print, for v1 (1.6.x: Debian bookworm) and v2 (2.x: trixie on).
// Pure functions, so the exact command lines and the parsing are tested without hardware.
import type { Bias, Level } from './types.js'

export type GpiodVersion = 1 | 2

/** v1: "gpiodetect (libgpiod) v1.6.3"; v2.0–2.2: "gpiodetect (libgpiod) v2.1"; later: "gpiodetect v2.3 (libgpiod v2.3)". */
export function parseVersion (text: string): GpiodVersion | undefined {
  const major = /\bv(\d+)\.\d+/.exec(text)?.[1]
  return major === '1' ? 1 : major === '2' ? 2 : undefined
}

export interface ChipInfo {
  /** gpiochipN: valid for this boot only, so always found again by label */
  name: string
  label: string
  lines: number
}

/** `gpiodetect` lines: "gpiochip0 [pinctrl-bcm2711] (58 lines)" (both versions); v1 adds "gpiochip1 Permission denied". */
export function parseChips (text: string): { chips: ChipInfo[], denied: string[] } {
  const chips: ChipInfo[] = []
  const denied: string[] = []
  for (const line of text.split('\n')) {
    const chip = /^(\S+) \[(.*)\] \((\d+) lines\)$/.exec(line.trim())
    if (chip !== null) chips.push({ name: chip[1] ?? '', label: chip[2] ?? '', lines: Number(chip[3]) })
    else if (/ Permission denied$/.test(line.trim())) denied.push(line.trim().split(' ')[0] ?? '')
  }
  return { chips, denied }
}

/** `gpiofind NAME` (v1) and `gpioinfo NAME` (v2) both start their answer with "gpiochip0 17". */
export function parseFound (text: string): { chip: string, offset: number } | undefined {
  const found = /^(\S+) (\d+)\b/.exec(text.trim())
  return found === null ? undefined : { chip: found[1] ?? '', offset: Number(found[2]) }
}

function biasArgs (version: GpiodVersion, bias: Bias): string[] {
  if (bias === 'as-is') return []
  // v2 spells "disable" as "disabled"
  return version === 1 ? ['-B', bias] : ['-b', bias === 'disable' ? 'disabled' : bias]
}

export function getArgs (version: GpiodVersion, chip: string, offset: number, bias: Bias): string[] {
  return version === 1
    ? [...biasArgs(1, bias), chip, String(offset)]
    : ['--numeric', '-c', chip, ...biasArgs(2, bias), String(offset)]
}

/** v1 prints the edge as 1 (rising) / 0 (falling) and seconds and nanoseconds apart; v2 names the edge. */
export const MONITOR_FORMAT = { 1: '%o %e %s %n', 2: '%o %E %S' } as const

export function monitorArgs (version: GpiodVersion, chip: string, offset: number, bias: Bias): string[] {
  return version === 1
    // -b: line-buffered, or events would wait in a pipe buffer
    ? ['-b', '-F', MONITOR_FORMAT[1], ...biasArgs(1, bias), chip, String(offset)]
    // --banner: a line on stdout once the line is requested, so opening knows it worked
    : ['--banner', '-F', MONITOR_FORMAT[2], '-c', chip, ...biasArgs(2, bias), String(offset)]
}

export function setArgs (version: GpiodVersion, chip: string, offset: number, bias: Bias, level: Level): string[] {
  return version === 1
    // v1 gpioset exits at once (releasing the line) unless told to hold it until a signal
    ? ['--mode=signal', ...biasArgs(1, bias), chip, `${offset}=${level}`]
    : ['--banner', '-c', chip, ...biasArgs(2, bias), `${offset}=${level}`]
}

export interface RawEvent {
  offset: number
  level: Level
  timestampNs: bigint
}

/** One line of gpiomon output in MONITOR_FORMAT; undefined for anything else (the v2 banner). */
export function parseEvent (version: GpiodVersion, line: string): RawEvent | undefined {
  if (version === 1) {
    const m = /^(\d+) ([01]) (\d+) (\d+)$/.exec(line.trim())
    if (m === null) return undefined
    return { offset: Number(m[1]), level: m[2] === '1' ? 1 : 0, timestampNs: BigInt(m[3] ?? 0) * 1_000_000_000n + BigInt(m[4] ?? 0) }
  }
  const m = /^(\d+) (rising|falling) (\d+)\.(\d{9})$/.exec(line.trim())
  if (m === null) return undefined
  return { offset: Number(m[1]), level: m[2] === 'rising' ? 1 : 0, timestampNs: BigInt(m[3] ?? 0) * 1_000_000_000n + BigInt(m[4] ?? 0) }
}

/** v1 `gpioinfo CHIP`: the consumer and direction of one line ("\tline  17:  "GPIO17"  "gpioset"  output  active-high [used]"). */
export function parseLineUse (text: string, offset: number): { consumer: string | undefined, direction: 'input' | 'output' } | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*line\s+(\d+):\s+(?:"[^"]*"|unnamed)\s+("([^"]*)"|unused|kernel)\s+(input|output)\b/.exec(line)
    if (m !== null && Number(m[1]) === offset) return { consumer: m[3] ?? (m[2] === 'kernel' ? 'kernel' : undefined), direction: m[4] === 'output' ? 'output' : 'input' }
  }
  return undefined
}
