// Naming board resources: a GPIO line by header name (GPIO17) or physical pin (pin11). Plain code with no
// schema library, because driver processes use it too.
import { OutpostError } from '../errors.js'
import type { Board } from './schema.js'

export interface LineRef {
  chipLabel: string
  offset: number
  name: string
}

export function findLine (board: Board, name: string): LineRef {
  for (const chip of board.gpio.chips) {
    for (const line of chip.lines) {
      if (line.name === name || (line.pin !== undefined && `pin${line.pin}` === name)) return { chipLabel: chip.label, offset: line.offset, name: line.name }
    }
  }
  const known = board.gpio.chips.flatMap(c => c.lines.map(l => l.name))
  throw new OutpostError('GPIO_LINE_UNKNOWN', `board ${board.name} has no GPIO line "${name}" (lines: ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}; or pin<N> for a header pin)`)
}

export type ClaimKind = 'gpio' | 'uart' | 'i2c' | 'onewire'

export interface Claim {
  module: string
  kind: ClaimKind
  resource: string
}

/** The canonical identity of a claimed resource, so aliases of one line are one resource. */
export function canonicalResource (board: Board, claim: Omit<Claim, 'module'>): string {
  if (claim.kind === 'gpio') {
    const line = findLine(board, claim.resource)
    return `gpio ${line.chipLabel}:${line.offset} (${line.name})`
  }
  const devices = claim.kind === 'uart' ? board.uarts : claim.kind === 'i2c' ? board.i2c : board.onewire
  if (devices[claim.resource] === undefined) {
    throw new OutpostError('RESOURCE_UNKNOWN', `board ${board.name} has no ${claim.kind} "${claim.resource}" (it has: ${Object.keys(devices).join(', ') || 'none'})`)
  }
  return `${claim.kind} ${claim.resource}`
}
