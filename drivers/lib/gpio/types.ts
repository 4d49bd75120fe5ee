// The one GPIO interface drivers use, whatever the backend. Values are logical: active-low is applied in
// the layer, so 1 always means "active" (relay energised, button pressed).
export type Level = 0 | 1

export interface LineOptions {
  direction: 'input' | 'output'
  activeLow?: boolean
  /** outputs: the value written at open and restored at close (the safe state) */
  initial?: Level
  /** inputs: edges are reported only after the level has held this long */
  debounceMs?: number
}

export interface Edge {
  value: Level
  edge: 'rising' | 'falling'
  /** ms since the epoch */
  ts: number
}

export interface GpioLine {
  read (): Promise<Level>
  write (value: Level): Promise<void>
  /** inputs: calls back on every debounced edge; returns an unsubscribe function */
  watch (handler: (edge: Edge) => void): () => void
  close (): Promise<void>
}
