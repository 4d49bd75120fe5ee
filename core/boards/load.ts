// Loading board definitions (boards/<name>.json) and checking them against the schema.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { boardsDir as shippedBoards } from '../paths.js'
import { zodProblems } from '../manifest/errors.js'
import { boardSchema } from './schema.js'
import type { Board } from './schema.js'

/** `<repo>/boards`: this file runs as build/core/boards/load.js; the data stays at the repository root. */
export function listBoards (boardsDir: string = shippedBoards): string[] {
  return readdirSync(boardsDir).filter(f => f.endsWith('.json')).map(f => f.slice(0, -'.json'.length)).sort()
}

export interface BoardsOptions {
  boardsDir?: string
}

export function loadBoard (name: string, { boardsDir = shippedBoards }: BoardsOptions = {}): Board {
  const file = path.join(boardsDir, `${name}.json`)
  let text: string
  try {
    // a name is a file name, never a path
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error('not a board name')
    text = readFileSync(file, 'utf8')
  } catch (err) {
    let available: string
    try {
      available = listBoards(boardsDir).join(', ')
    } catch {
      available = `none: cannot read ${boardsDir}`
    }
    throw new OutpostError('BOARD_NOT_FOUND', `no board named "${name}" in ${boardsDir} (boards: ${available})`, { details: { name, boardsDir }, cause: err })
  }
  let input: unknown
  try {
    input = JSON.parse(text)
  } catch (err) {
    throw new OutpostError('BOARD_INVALID', `invalid board ${file}: not valid JSON: ${(err as Error).message}`, { details: { file }, cause: err })
  }
  const parsed = boardSchema.safeParse(input)
  const problems = parsed.success ? [] : zodProblems(parsed.error, input)
  if (parsed.success && parsed.data.name !== name) problems.push({ path: 'name', message: `expected "${name}" (the file's name), found the text "${parsed.data.name}"` })
  if (!parsed.success || problems.length > 0) {
    throw new OutpostError('BOARD_INVALID', `invalid board ${file}:\n${problems.map(p => `  ${file}: ${p.path}: ${p.message}`).join('\n')}`, { details: { file, problems } })
  }
  return parsed.data
}
