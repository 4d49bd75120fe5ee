// The gateway's board as a driver sees it: the resolved definition the core wrote for this run
// (OUTPOST_BOARD_FILE). Plain JSON reading: driver processes do not load the core's schema library.
import { readFileSync } from 'node:fs'
import type { Board } from '../../../core/boards/schema.js'
import { OutpostError } from '../../../core/errors.js'

export type { Board }

export function readBoard (file: string | undefined): Board {
  if (file === undefined) throw new OutpostError('MODULE_ENV', 'OUTPOST_BOARD_FILE is not set: drivers are started by the Outpost core')
  return JSON.parse(readFileSync(file, 'utf8')) as Board
}

export interface LineRef {
  chipLabel: string
  offset: number
  name: string
}

/** Finds a GPIO line by header name (GPIO17) or physical pin (pin11). */
export function findLine (board: Board, name: string): LineRef {
  for (const chip of board.gpio.chips) {
    for (const line of chip.lines) {
      if (line.name === name || (line.pin !== undefined && `pin${line.pin}` === name)) return { chipLabel: chip.label, offset: line.offset, name: line.name }
    }
  }
  const known = board.gpio.chips.flatMap(c => c.lines.map(l => l.name))
  throw new OutpostError('GPIO_LINE_UNKNOWN', `board ${board.name} has no GPIO line "${name}" (lines: ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}; or pin<N> for a header pin)`)
}
