// The gateway's board: named in the manifest or detected, and the manifest checks that need it.
import { boardsDir } from '../paths.js'
import type { LoadedManifest } from '../manifest/load.js'
import type { Problem } from '../manifest/errors.js'
import type { CoreLog } from '../log.js'
import { detectBoard, loadBoard } from './load.js'
import type { Board } from './schema.js'

export function boardOf (name: string, log: Pick<CoreLog, 'info' | 'warn'>): Board {
  if (name !== 'auto') return loadBoard(name, boardsDir)
  const detected = detectBoard(boardsDir)
  if (detected.fallback) log.warn(`board auto-detection: ${detected.model} matches no board definition; using "generic"`)
  else log.info(`board auto-detection: "${detected.model}" is ${detected.board.name}`)
  return detected.board
}

/** Memory: the budgets of every instance, plus the core's own reserve, must fit the board's RAM. */
export const CORE_RESERVE_MIB = 96

export function boardProblems (loaded: LoadedManifest, board: Board): Problem[] {
  const { manifest } = loaded
  const problems: Problem[] = []
  let total = 0
  for (const { spec } of loaded.modules) {
    if (!spec.enabled) continue
    total += (spec.memoryMiB ?? manifest.defaults.memoryMiB) * spec.instances
  }
  if (total + CORE_RESERVE_MIB > board.ramMiB) {
    problems.push({
      path: 'modules',
      message: `memory budgets add up to ${total} MiB; with the core's reserve of ${CORE_RESERVE_MIB} MiB that is more than the ${board.ramMiB} MiB board "${board.name}" has`,
    })
  }
  return problems
}
