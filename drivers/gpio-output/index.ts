// gpio-output driver: set/get/toggle/pulse one output line; emits `changed` on every change.
import { runModule, OutpostError } from '../../core/sdk/index.js'
import { readBoard } from '../lib/board/index.js'
import { openLine } from '../lib/gpio/index.js'
import type { Level } from '../lib/gpio/index.js'
import type { Config } from './schema.js'

const MAX_PULSE_MS = 60_000

function levelOf (args: unknown): Level {
  const value = (args as { value?: unknown } | null)?.value
  if (value === 0 || value === 1 || value === true || value === false) return value === 1 || value === true ? 1 : 0
  throw new OutpostError('BAD_ARGUMENTS', 'expected { value: 0 | 1 } (or true/false)')
}

function pulseMs (args: { ms?: unknown } | null): number {
  const ms = args?.ms
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_PULSE_MS) {
    throw new OutpostError('BAD_ARGUMENTS', `expected { ms: an integer 1..${MAX_PULSE_MS}, value?: 0 | 1 }, not ms ${JSON.stringify(ms) ?? 'missing'}`)
  }
  return ms
}

runModule<Config>(async (m) => {
  const { line: name, activeLow, safeState } = m.config
  const line = await openLine(readBoard(m.env.boardFile), name, { direction: 'output', activeLow, initial: safeState, simRoot: m.env.simRoot })
  // the value last asked of the line, set before the write: the line runs writes in order, so a decision
  // taken while a write is in flight (a pulse ending, a new pulse) already sees it
  let value: Level = safeState
  /** the pulse in progress: when it ends the line goes back to `restore`, the value before the first pulse */
  let pulse: { timer: NodeJS.Timeout, restore: Level } | undefined
  const endPulse = (): void => {
    clearTimeout(pulse?.timer)
    pulse = undefined
  }
  const set = async (next: Level): Promise<{ value: Level }> => {
    const changed = next !== value
    value = next
    await line.write(next)
    if (changed) m.emit('changed', { line: name, value: next })
    return { value: next }
  }
  m.hooks('changed')
  m.method('set', args => {
    const next = levelOf(args)
    endPulse()
    return set(next)
  })
  m.method('get', () => ({ value }))
  m.method('toggle', () => {
    endPulse()
    return set(value === 1 ? 0 : 1)
  })
  m.method('pulse', (args: { ms?: unknown, value?: unknown } | null) => {
    const ms = pulseMs(args)
    // a pulse during a pulse restarts the time and still ends at the value from before the first one
    const restore = pulse?.restore ?? value
    const during = args?.value === undefined ? (restore === 1 ? 0 : 1) : levelOf(args)
    endPulse()
    const timer = setTimeout(() => {
      pulse = undefined
      set(restore).catch(err => m.log.error('pulse restore failed', { error: err as Error }))
    }, ms)
    pulse = { timer, restore }
    return set(during)
  })
  m.onStop(() => {
    // no restore after the line is closed: closing drives the safe state
    endPulse()
    return line.close()
  })
  await m.start()
  m.log.info(`driving ${name}`, { activeLow, safeState })
})
