// Loading, detecting and resolving board definitions.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { zodProblems } from '../manifest/errors.js'
import { boardSchema } from './schema.js'
import type { Board } from './schema.js'

export function listBoards (boardsDir: string): string[] {
  return readdirSync(boardsDir).filter(f => f.endsWith('.json')).map(f => f.slice(0, -'.json'.length)).sort()
}

export function loadBoard (name: string, boardsDir: string): Board {
  const file = path.join(boardsDir, `${name}.json`)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new OutpostError('BOARD_NOT_FOUND', `no board named "${name}" (boards: ${listBoards(boardsDir).join(', ')}, or "auto")`, { details: { name } })
  }
  let input: unknown
  try {
    input = JSON.parse(text)
  } catch (err) {
    throw new OutpostError('BOARD_INVALID', `board ${file}: not valid JSON: ${(err as Error).message}`)
  }
  const parsed = boardSchema.safeParse(input)
  if (!parsed.success) {
    const problems = zodProblems(parsed.error, input).map(p => `  ${file}: ${p.path}: ${p.message}`)
    throw new OutpostError('BOARD_INVALID', `invalid board ${file}:\n${problems.join('\n')}`)
  }
  return parsed.data
}

export interface Detection {
  board: Board
  /** the model string read, or why none was */
  model: string
  fallback: boolean
}

/** Identifies the board from the device tree's model string; falls back to `generic`, saying so. */
export function detectBoard (boardsDir: string, deviceTreeRoot = '/proc/device-tree'): Detection {
  let model: string
  try {
    model = readFileSync(path.join(deviceTreeRoot, 'model'), 'utf8').replace(/\0+$/, '').trim()
  } catch {
    return { board: loadBoard('generic', boardsDir), model: `no ${deviceTreeRoot}/model`, fallback: true }
  }
  for (const name of listBoards(boardsDir)) {
    const board = loadBoard(name, boardsDir)
    if (board.match.some(prefix => model.startsWith(prefix))) return { board, model, fallback: false }
  }
  return { board: loadBoard('generic', boardsDir), model, fallback: true }
}

/** Makes every device path of a simulated board absolute under simRoot. */
export function resolveBoard (board: Board, simRoot: string): Board {
  if (!board.simulated) return board
  const under = (devices: Board['uarts']): Board['uarts'] =>
    Object.fromEntries(Object.entries(devices).map(([name, d]) => [name, { ...d, path: path.resolve(simRoot, d.path) }]))
  return { ...board, uarts: under(board.uarts), i2c: under(board.i2c), onewire: under(board.onewire) }
}
