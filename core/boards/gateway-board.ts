// The gateway's board: named in the manifest or detected, and the manifest checks that need it (run by the
// manifest checker, manifest/check.ts).
import type { CheckedManifest } from '../manifest/check.js'
import type { Problem } from '../manifest/errors.js'
import type { CoreLog } from '../log.js'
import { auditClaims, describeConflict } from './claims.js'
import type { Claim } from './claims.js'
import { detectBoard } from './detect.js'
import { loadBoard } from './load.js'
import type { Board } from './schema.js'

export function boardOf (name: string, log: Pick<CoreLog, 'info' | 'warn'>): Board {
  if (name !== 'auto') return loadBoard(name)
  const detected = detectBoard()
  if (detected.fallback) log.warn(`board auto-detection: ${detected.detectedFrom}; using "generic"`)
  else log.info(`board auto-detection: ${detected.detectedFrom}: board ${detected.board.name}`)
  return detected.board
}

/** Memory: the budgets of every instance, plus the core's own reserve, must fit the board's RAM. */
export const CORE_RESERVE_MIB = 96

export function boardProblems (loaded: CheckedManifest): Problem[] {
  const { manifest, board } = loaded
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
  problems.push(...claimProblems(loaded))
  return problems
}

/** Each pin, port or bus may be claimed by one module only; aliases (GPIO17, pin11) are the same line. */
function claimProblems (loaded: CheckedManifest): Problem[] {
  const claims: Claim[] = []
  const where = new Map<string, string>()
  for (const { spec, schema } of loaded.modules) {
    if (!spec.enabled || schema.claims === undefined) continue
    where.set(spec.name, `modules[${loaded.manifest.modules.indexOf(spec)}] (${spec.name}).config`)
    for (const claim of schema.claims(spec.config)) claims.push({ module: spec.name, ...claim })
  }
  const { conflicts, unknown } = auditClaims(claims, loaded.board)
  return [
    ...unknown.map(u => ({ path: where.get(u.claim.module) ?? 'modules', message: u.message })),
    ...conflicts.map(c => ({ path: where.get(c.modules[1]) ?? 'modules', message: describeConflict(c) })),
  ]
}
