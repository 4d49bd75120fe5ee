// The one GPIO interface drivers use, whatever the backend (docs/gpio.md). Values are logical: active-low is
// applied in the layer, so 1 always means "active" (relay energised, button pressed).
import type { LineRef } from '../../../core/boards/lines.js'

export type Level = 0 | 1
export type Bias = 'pull-up' | 'pull-down' | 'disable' | 'as-is'

export interface LineOptions {
  direction: 'input' | 'output'
  activeLow?: boolean
  bias?: Bias
  /** inputs: which logical edges reach `watch` handlers (default both); "none" starts no monitoring */
  edge?: 'rising' | 'falling' | 'both' | 'none'
  /** inputs: an edge counts once the level has held this long (default 0) */
  debounceMs?: number
  /** outputs: the value written at open and restored at close, the safe state (default 0) */
  initial?: Level
  /** the monitoring of an input failed after open (a gpiomon child died); default: thrown, so the process ends */
  onError?: (err: Error) => void
  /** sim backend: the gateway's simulation root (OUTPOST_SIM_ROOT) */
  simRoot?: string
  /** cdev backend: directory holding the gpiod tools (default: found on PATH) */
  gpiodBin?: string
  /** sysfs backend: the sysfs GPIO directory (default /sys/class/gpio) */
  sysfsRoot?: string
  /** sysfs and sim backends: how often an input is re-read to catch changes (default 20 ms sysfs, 200 ms sim) */
  pollMs?: number
}

export interface Edge {
  value: Level
  edge: 'rising' | 'falling'
  /** CLOCK_MONOTONIC nanoseconds (the kernel's event time on cdev; process.hrtime.bigint() on sim and sysfs) */
  timestampNs: bigint
}

export interface GpioLine {
  /** the line's canonical name on the board, e.g. GPIO17 for pin11 */
  readonly name: string
  read (): Promise<Level>
  write (value: Level): Promise<void>
  /** inputs: calls back on every debounced edge; returns an unsubscribe function */
  watch (handler: (edge: Edge) => void): () => void
  /** outputs return to their safe state first; safe to call more than once */
  close (): Promise<void>
}

/** A line to open: declared on the board, or (boards with kernel line names) looked up by the kernel at run time. */
export type Target = LineRef | { kernelName: string, name: string }

/** What the layer asks of a backend. Levels here are physical. */
export interface RawRequest {
  target: Target
  direction: 'input' | 'output'
  bias: Bias
  /** outputs: the physical level to drive from the start */
  initial: Level
  /** inputs: monitor the line and call back on every physical change */
  onChange?: (level: Level, timestampNs: bigint) => void
  onError: (err: Error) => void
}

export interface RawLine {
  read (): Promise<Level>
  write (level: Level): Promise<void>
  close (): Promise<void>
}
