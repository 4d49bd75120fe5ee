// Identifying the board from the device tree's model string (e.g. "Raspberry Pi 4 Model B Rev 1.4").
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { listBoards, loadBoard } from './load.js'
import type { Board } from './schema.js'

export interface Detection {
  board: Board
  /** the model string read, if there was one */
  model: string | undefined
  /** what the choice rests on, for the log line */
  detectedFrom: string
  /** true when no board matched and `generic` was chosen: the caller should say so */
  fallback: boolean
}

export interface DetectOptions {
  boardsDir?: string
  deviceTreeRoot?: string
}

/** The kernel exposes the model as a NUL-terminated string; anything from the first NUL on is not part of it. */
export function readModel (deviceTreeRoot: string): string | undefined {
  try {
    const raw = readFileSync(path.join(deviceTreeRoot, 'model'), 'latin1')
    const end = raw.indexOf('\0')
    return (end === -1 ? raw : raw.slice(0, end)).trim()
  } catch {
    return undefined
  }
}

/** The board whose longest `match` prefix starts the model string; `generic` when none does. */
export function detectBoard ({ boardsDir, deviceTreeRoot = '/proc/device-tree' }: DetectOptions = {}): Detection {
  const options = boardsDir === undefined ? {} : { boardsDir }
  const modelFile = path.join(deviceTreeRoot, 'model')
  const model = readModel(deviceTreeRoot)
  if (model === undefined || model === '') {
    return { board: loadBoard('generic', options), model, detectedFrom: `${modelFile} is missing or empty`, fallback: true }
  }
  let best: { board: Board, prefix: string } | undefined
  for (const name of listBoards(boardsDir)) {
    const board = loadBoard(name, options)
    for (const prefix of board.match) {
      if (model.startsWith(prefix) && prefix.length > (best?.prefix.length ?? 0)) best = { board, prefix }
    }
  }
  if (best === undefined) {
    return { board: loadBoard('generic', options), model, detectedFrom: `${modelFile} says "${model}", which no board matches`, fallback: true }
  }
  return { board: best.board, model, detectedFrom: `${modelFile} says "${model}" (matches "${best.prefix}")`, fallback: false }
}
