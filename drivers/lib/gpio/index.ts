// Opening a GPIO line by name on the gateway's board. Active-low and debounce are applied here, once,
// for every backend; backends only move physical levels.
import { OutpostError } from '../../../core/errors.js'
import { findLine } from '../board/index.js'
import type { Board } from '../board/index.js'
import { simRead, simWatch, simWrite } from './sim.js'
import type { Edge, GpioLine, Level, LineOptions } from './types.js'

export type { Edge, GpioLine, Level, LineOptions } from './types.js'

interface Backend {
  read (): Level
  write (level: Level): void
  watch (onLevel: (level: Level) => void): () => void
}

function backendFor (board: Board, chipLabel: string, offset: number, simRoot: string | undefined): Backend {
  if (board.gpio.backend === 'sim') {
    if (simRoot === undefined) throw new OutpostError('GPIO_BACKEND', `board ${board.name} is simulated but no simulation root was given (OUTPOST_SIM_ROOT)`)
    return {
      read: () => simRead(simRoot, chipLabel, offset),
      write: level => simWrite(simRoot, chipLabel, offset, level),
      watch: onLevel => simWatch(simRoot, chipLabel, offset, onLevel),
    }
  }
  throw new OutpostError('GPIO_BACKEND', `GPIO backend "${board.gpio.backend}" of board ${board.name} is not available in this build`)
}

export function openLine (board: Board, name: string, options: LineOptions & { simRoot?: string }): GpioLine {
  const ref = findLine(board, name)
  const backend = backendFor(board, ref.chipLabel, ref.offset, options.simRoot)
  const invert = (v: Level): Level => (options.activeLow === true ? (v === 1 ? 0 : 1) : v)
  const safe = options.initial ?? 0
  const handlers = new Set<(edge: Edge) => void>()
  let stopWatching: (() => void) | undefined
  let closed = false
  let stable: Level = invert(backend.read())
  let debounce: NodeJS.Timeout | undefined

  if (options.direction === 'output') backend.write(invert(safe))

  const settle = (logical: Level): void => {
    if (logical === stable) return
    stable = logical
    const edge: Edge = { value: logical, edge: logical === 1 ? 'rising' : 'falling', ts: Date.now() }
    for (const handler of handlers) handler(edge)
  }

  return {
    async read () { return invert(backend.read()) },
    async write (value) {
      if (options.direction !== 'output') throw new OutpostError('GPIO_DIRECTION', `line ${ref.name} is an input; it cannot be written`)
      if (closed) throw new OutpostError('GPIO_BACKEND', `line ${ref.name} is closed`)
      backend.write(invert(value))
    },
    watch (handler) {
      handlers.add(handler)
      stopWatching ??= backend.watch(level => {
        const logical = invert(level)
        clearTimeout(debounce)
        if ((options.debounceMs ?? 0) <= 0) settle(logical)
        else debounce = setTimeout(() => settle(invert(backend.read())), options.debounceMs)
      })
      return () => { handlers.delete(handler) }
    },
    async close () {
      if (closed) return
      closed = true
      clearTimeout(debounce)
      stopWatching?.()
      // outputs go back to their declared safe state when the driver stops
      if (options.direction === 'output') backend.write(invert(safe))
    },
  }
}
