// The gateway's board: named in the manifest or detected, and the manifest checks that need it.
import { boardsDir } from '../paths.js'
import type { LoadedManifest } from '../manifest/load.js'
import type { Problem } from '../manifest/errors.js'
import type { CoreLog } from '../log.js'
import { detectBoard, loadBoard } from './load.js'
import type { Board } from './schema.js'
import { canonicalResource } from './lines.js'

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
  problems.push(...claimProblems(loaded, board))
  return problems
}

/** Each pin, port or bus may be claimed by one module only; aliases (GPIO17, pin11) are the same line. */
function claimProblems (loaded: LoadedManifest, board: Board): Problem[] {
  const problems: Problem[] = []
  const owners = new Map<string, string>()
  loaded.modules.forEach(({ spec, schema }) => {
    if (!spec.enabled || schema.claims === undefined) return
    const i = loaded.manifest.modules.indexOf(spec)
    for (const claim of schema.claims(spec.config)) {
      let resource: string
      try {
        resource = canonicalResource(board, claim)
      } catch (err) {
        problems.push({ path: `modules[${i}] (${spec.name}).config`, message: (err as Error).message })
        continue
      }
      const owner = owners.get(resource)
      if (owner === undefined) owners.set(resource, spec.name)
      else problems.push({ path: `modules[${i}] (${spec.name}).config`, message: `${resource} is claimed by both ${owner} and ${spec.name}` })
    }
  })
  return problems
}
