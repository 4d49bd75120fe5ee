// The serial port of a driver module: where the config points (a board UART by name, or a device path), and
// the port's life told to the world as `connected` / `disconnected` hooks. Used by every serial driver, so
// they all report the same way (docs/drivers/serial-line.md, "Hooks").
import { OutpostError } from '../../../core/errors.js'
import { readBoard } from '../board/index.js'
import type { ManagedSerial } from './types.js'

/** the port part of a serial driver's config (checked by its schema.ts: exactly one of uart and path) */
export interface PortConfig {
  uart?: string | undefined
  path?: string | undefined
  baudRate: number
  dataBits: 5 | 6 | 7 | 8
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space'
  stopBits: 1 | 1.5 | 2
}

export const PORT_HOOKS = ['connected', 'disconnected'] as const

/** the device path: `path` as given, or the board UART's path from the board file the core wrote */
export function portPath (config: Pick<PortConfig, 'uart' | 'path'>, boardFile: string | undefined): string {
  if (config.path !== undefined) return config.path
  const board = readBoard(boardFile)
  const name = config.uart ?? ''
  const uart = board.uarts[name]
  if (uart === undefined) {
    throw new OutpostError('RESOURCE_UNKNOWN', `board ${board.name} has no UART "${name}" (it has: ${Object.keys(board.uarts).join(', ') || 'none'})`)
  }
  return uart.path
}

export interface HookOutlet {
  emit (hook: string, data: unknown): void
  /** emits what was held back, in order, and everything from now on at once */
  open (): void
}

/**
 * The module's `emit`, holding hooks back until `open()`. A driver opens its port before starting the
 * module, so its methods have the port from the first call on; the port's first events (and the device's
 * first data) may come before the broker connection is up, and must wait for it, not be lost.
 */
export function holdHooks (m: { emit (hook: string, data: unknown): void }): HookOutlet {
  let held: Array<[string, unknown]> | undefined = []
  return {
    emit (hook, data) {
      if (held === undefined) m.emit(hook, data)
      else held.push([hook, data])
    },
    open () {
      const waiting = held ?? []
      held = undefined
      for (const [hook, data] of waiting) m.emit(hook, data)
    },
  }
}

export interface PortError {
  code: string
  message: string
}

export interface PortReport {
  /** what is wrong while the port is not open (the last open failure or loss), null while open */
  readonly lastError: PortError | null
}

/**
 * Emits `connected` on every open and one `disconnected` per loss of the port: with the close reason, or
 * `unavailable` with the error code when an open fails (a missing port at start). Later failures while
 * still disconnected are only logged (by the serial layer) and kept as `lastError`: one hook per outage.
 */
export function reportPort (m: { emit (hook: string, data: unknown): void }, serial: ManagedSerial): PortReport {
  const path = serial.path
  let down = false
  let lastError: PortError | null = null
  serial.on('open', () => {
    down = false
    lastError = null
    m.emit('connected', { path })
  })
  serial.on('close', ({ reason, error }) => {
    down = true
    lastError = error === undefined ? null : { code: error.code, message: error.message }
    m.emit('disconnected', { path, reason, code: error?.code ?? null, message: error?.message ?? `serial port ${path} was closed` })
  })
  serial.on('error', error => {
    lastError = { code: error.code, message: error.message }
    if (down) return
    down = true
    m.emit('disconnected', { path, reason: 'unavailable', code: error.code, message: error.message })
  })
  return { get lastError () { return lastError } }
}
