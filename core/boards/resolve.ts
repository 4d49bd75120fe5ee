// A board definition made ready for this gateway. Apart from load.ts (which validates board files with zod),
// as the core only resolves a definition the manifest checker already loaded.
import path from 'node:path'
import { OutpostError } from '../errors.js'
import type { Board } from './schema.js'

/**
 * The board with every device path absolute: a simulated board's paths are joined to the simulation root
 * (the schema keeps them relative; other boards' paths are absolute already).
 */
export function resolveBoard (board: Board, { simRoot }: { simRoot?: string } = {}): Board {
  if (!board.simulated) return board
  if (simRoot === undefined) throw new OutpostError('BOARD_INVALID', `board ${board.name} is simulated: its device paths need a simulation root`, { details: { board: board.name } })
  const root = path.resolve(simRoot)
  const under = (devices: Board['uarts']): Board['uarts'] =>
    Object.fromEntries(Object.entries(devices).map(([key, d]) => [key, { ...d, path: path.resolve(root, d.path) }]))
  return { ...board, uarts: under(board.uarts), i2c: under(board.i2c), onewire: under(board.onewire) }
}
