// gpio-output driver: set/get/toggle/pulse one output line; emits `changed` on every change.
import { runModule, OutpostError } from '../../core/sdk/index.js'
import { readBoard } from '../lib/board/index.js'
import { openLine } from '../lib/gpio/index.js'
import type { Level } from '../lib/gpio/index.js'
import type { Config } from './schema.js'

function levelOf (args: unknown): Level {
  const value = (args as { value?: unknown } | null)?.value
  if (value === 0 || value === 1 || value === true || value === false) return value === 1 || value === true ? 1 : 0
  throw new OutpostError('BAD_ARGUMENTS', 'expected { value: 0 | 1 } (or true/false)')
}

runModule<Config>(async (m) => {
  const { line: name, activeLow, safeState } = m.config
  const line = await openLine(readBoard(m.env.boardFile), name, { direction: 'output', activeLow, initial: safeState, simRoot: m.env.simRoot })
  let value: Level = safeState
  let pulse: NodeJS.Timeout | undefined
  const set = async (next: Level): Promise<{ value: Level }> => {
    await line.write(next)
    if (next !== value) {
      value = next
      m.emit('changed', { line: name, value })
    }
    return { value }
  }
  m.hooks('changed')
  m.method('set', args => { clearTimeout(pulse); return set(levelOf(args)) })
  m.method('get', () => ({ value }))
  m.method('toggle', () => { clearTimeout(pulse); return set(value === 1 ? 0 : 1) })
  m.method('pulse', async (args: { ms?: unknown, value?: unknown } | null) => {
    const ms = args?.ms
    if (typeof ms !== 'number' || ms <= 0 || ms > 60_000) throw new OutpostError('BAD_ARGUMENTS', 'expected { ms: 1..60000 }')
    clearTimeout(pulse)
    const before = value
    const result = await set(args?.value === undefined ? (before === 1 ? 0 : 1) : levelOf(args))
    pulse = setTimeout(() => { set(before).catch(err => m.log.error('pulse restore failed', { error: err as Error })) }, ms)
    return result
  })
  m.onStop(() => line.close())
  await m.start()
  m.log.info(`driving ${name}`, { activeLow, safeState })
})
