// Which module uses which pin, port or bus. Resources are compared by identity, not by the name a module
// used: GPIO17 and pin11 are one line, and a UART, I²C bus or 1-Wire bus also occupies the lines it is
// wired to, so a UART and a GPIO claim on its TX pin conflict.
import { OutpostError } from '../errors.js'
import { lookupLine, unknownLineMessage } from './lines.js'
import type { Board } from './schema.js'

export type ClaimKind = 'gpio' | 'uart' | 'i2c' | 'onewire'

export interface Claim {
  module: string
  kind: ClaimKind
  resource: string
}

export interface ClaimConflict {
  /** the resource both claim, e.g. "gpio sim-gpio:17 (GPIO17)" or "uart serial0" */
  resource: string
  modules: [string, string]
  /** the claims as the two modules wrote them (GPIO17 vs pin11, or uart serial0 vs GPIO14) */
  claims: [Claim, Claim]
}

export interface UnknownClaim {
  claim: Claim
  message: string
}

const DEVICE_KINDS = { uart: 'uarts', i2c: 'i2c', onewire: 'onewire' } as const

function gpioResource (board: Board, name: string): string | undefined {
  const line = lookupLine(board, name)
  if (line !== undefined) return `gpio ${line.chipLabel}:${line.offset} (${line.name})`
  // lines named by the kernel at run time cannot be checked here; the name itself is the identity
  return board.gpio.kernelLineNames ? `gpio ${name}` : undefined
}

function unknownDeviceMessage (board: Board, kind: Exclude<ClaimKind, 'gpio'>, name: string): string {
  const devices = Object.entries(board[DEVICE_KINDS[kind]])
  const listed = devices.map(([key]) => key).join(', ') || 'none'
  const described = devices.map(([key, d]) => `${key} is ${d.path}${d.note === undefined ? '' : ` (${d.note})`}`).join('; ')
  return `board ${board.name} has no ${kind} "${name}" (it has: ${listed})${described === '' ? '' : `: ${described}`}`
}

/** The resources one claim occupies: the resource itself, and for a device the lines it is wired to. */
function resourcesOf (board: Board, claim: Claim): string[] | UnknownClaim {
  if (claim.kind === 'gpio') {
    const resource = gpioResource(board, claim.resource)
    return resource === undefined ? { claim, message: unknownLineMessage(board, claim.resource) } : [resource]
  }
  const device = board[DEVICE_KINDS[claim.kind]][claim.resource]
  if (device === undefined) return { claim, message: unknownDeviceMessage(board, claim.kind, claim.resource) }
  const pins = device.pins.map(pin => gpioResource(board, pin)).filter((r): r is string => r !== undefined)
  return [`${claim.kind} ${claim.resource}`, ...pins]
}

/** Every pair of modules claiming one resource, and every claim the board cannot satisfy. */
export function auditClaims (claims: readonly Claim[], board: Board): { conflicts: ClaimConflict[], unknown: UnknownClaim[] } {
  const owners = new Map<string, Claim>()
  const conflicts: ClaimConflict[] = []
  const unknown: UnknownClaim[] = []
  for (const claim of claims) {
    const resources = resourcesOf(board, claim)
    if (!Array.isArray(resources)) {
      unknown.push(resources)
      continue
    }
    for (const resource of resources) {
      const owner = owners.get(resource)
      if (owner === undefined) owners.set(resource, claim)
      // one module may occupy a resource twice (a UART and its own pins)
      else if (owner.module !== claim.module) conflicts.push({ resource, modules: [owner.module, claim.module], claims: [owner, claim] })
    }
  }
  return { conflicts, unknown }
}

/** The conflicts; throws RESOURCE_UNKNOWN naming every claim the board cannot satisfy. */
export function findClaimConflicts (claims: readonly Claim[], board: Board): ClaimConflict[] {
  const { conflicts, unknown } = auditClaims(claims, board)
  if (unknown.length > 0) {
    const lines = unknown.map(u => `  module ${u.claim.module}: ${u.message}`)
    throw new OutpostError('RESOURCE_UNKNOWN', `claims the board cannot satisfy:\n${lines.join('\n')}`, { details: { board: board.name, unknown } })
  }
  return conflicts
}

export function describeConflict (conflict: ClaimConflict): string {
  const [a, b] = conflict.claims
  return `${conflict.resource} is claimed by both ${a.module} and ${b.module} (${a.module}: ${a.kind} ${a.resource}; ${b.module}: ${b.kind} ${b.resource})`
}

/** Throws RESOURCE_UNKNOWN, or RESOURCE_CONFLICT naming the resource and both modules of every conflict. */
export function checkClaims (claims: readonly Claim[], board: Board): void {
  const conflicts = findClaimConflicts(claims, board)
  if (conflicts.length === 0) return
  throw new OutpostError('RESOURCE_CONFLICT', `on board ${board.name}:\n${conflicts.map(c => `  ${describeConflict(c)}`).join('\n')}`, { details: { board: board.name, conflicts } })
}
