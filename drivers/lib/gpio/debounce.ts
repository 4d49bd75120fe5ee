// Debounce, in one place for every backend: a change counts once the level has held for `ms`. The edge keeps
// the timestamp of the last raw change, i.e. when the level really settled.
import type { Level } from './types.js'

export interface Debouncer {
  push (value: Level, timestampNs: bigint): void
  stop (): void
}

export function createDebouncer (ms: number, initial: Level, emit: (value: Level, timestampNs: bigint) => void): Debouncer {
  let stable = initial
  let timer: NodeJS.Timeout | undefined
  return {
    push (value, timestampNs) {
      clearTimeout(timer)
      timer = undefined
      if (value === stable) return
      if (ms <= 0) {
        stable = value
        emit(value, timestampNs)
        return
      }
      timer = setTimeout(() => {
        timer = undefined
        stable = value
        emit(value, timestampNs)
      }, ms)
    },
    stop () {
      clearTimeout(timer)
      timer = undefined
    },
  }
}
