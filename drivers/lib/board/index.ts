// The gateway's board as a driver sees it: the resolved definition the core wrote for this run
// (OUTPOST_BOARD_FILE). Plain JSON reading: driver processes do not load the core's schema library.
import { readFileSync } from 'node:fs'
import type { Board } from '../../../core/boards/schema.js'
import { OutpostError } from '../../../core/errors.js'

export type { Board }
export { findLine } from '../../../core/boards/lines.js'
export type { LineRef } from '../../../core/boards/lines.js'

export function readBoard (file: string | undefined): Board {
  if (file === undefined) throw new OutpostError('MODULE_ENV', 'OUTPOST_BOARD_FILE is not set: drivers are started by the Outpost core')
  return JSON.parse(readFileSync(file, 'utf8')) as Board
}
