// Finding a board's GPIO line by any of its names. No zod here: driver processes import this file.
import { OutpostError } from '../errors.js'
import type { Board, BoardLine } from './schema.js'

export interface LineRef {
  /** label of the chip holding the line (backends find chips by label, never by number) */
  chipLabel: string
  offset: number
  /** the line's canonical name, e.g. GPIO17 */
  name: string
}

/** Every name a line answers to: its name, pin<N>, and its header position. */
export function aliasesOf (line: Pick<BoardLine, 'name' | 'pin' | 'header'>): string[] {
  const aliases = [line.name]
  if (line.pin !== undefined) aliases.push(`pin${line.pin}`)
  if (line.header !== undefined) aliases.push(line.header)
  return aliases
}

export function lookupLine (board: Board, name: string): LineRef | undefined {
  for (const chip of board.gpio.chips) {
    for (const line of chip.lines) {
      if (aliasesOf(line).includes(name)) return { chipLabel: chip.label, offset: line.offset, name: line.name }
    }
  }
  return undefined
}

/** Finds a line by name (GPIO17), physical pin (pin11) or header position (P9_12). */
export function findLine (board: Board, name: string): LineRef {
  const found = lookupLine(board, name)
  if (found !== undefined) return found
  throw new OutpostError('GPIO_LINE_UNKNOWN', unknownLineMessage(board, name), { details: { board: board.name, line: name, close: closeNames(board, name) } })
}

export function unknownLineMessage (board: Board, name: string): string {
  const close = closeNames(board, name)
  const hint = close.length > 0
    ? `did you mean ${close.join(', ')}?`
    : board.gpio.chips.length === 0 ? 'it declares no lines' : `lines are named like ${exampleNames(board)}`
  return `board ${board.name} has no GPIO line "${name}": ${hint}`
}

function exampleNames (board: Board): string {
  const first = board.gpio.chips.find(c => c.lines.length > 0)?.lines[0]
  return first === undefined ? '(none)' : aliasesOf(first).join(' / ')
}

/** Up to five aliases a mistyped name probably meant: same digits, or a small edit away. */
export function closeNames (board: Board, name: string): string[] {
  const wanted = name.toLowerCase()
  const digits = name.replace(/\D/g, '')
  const scored: Array<{ alias: string, score: number }> = []
  for (const chip of board.gpio.chips) {
    for (const line of chip.lines) {
      for (const alias of aliasesOf(line)) {
        const distance = editDistance(wanted, alias.toLowerCase())
        const sameDigits = digits !== '' && alias.replace(/\D/g, '') === digits
        if (distance <= 2 || sameDigits) scored.push({ alias, score: sameDigits ? Math.min(distance, 1) : distance })
      }
    }
  }
  scored.sort((a, b) => a.score - b.score || a.alias.localeCompare(b.alias, 'en', { numeric: true }))
  // a name that differs only in case has one obvious meaning
  const best = scored[0]?.score === 0 ? scored.filter(s => s.score === 0) : scored
  return best.slice(0, 5).map(s => s.alias)
}

function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
