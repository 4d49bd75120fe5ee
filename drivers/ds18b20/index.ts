// ds18b20 driver: polls every sensor on a 1-Wire bus and emits `reading` per sensor. One poll at a time: a
// tick that finds the previous poll still reading (a slow bus: each sensor takes 750 ms to convert) is
// skipped and counted, so blocked reads never pile up.
import { runModule, OutpostError } from '../../core/sdk/index.js'
import { readBoard } from '../lib/board/index.js'
import { listSensors, readSensor } from './w1.js'
import type { FaultKind } from './w1.js'
import type { Config } from './schema.js'

/** a sensor off the bus this long is forgotten (ghost ids from a noisy bus must not pile up) */
const FORGET_GONE_MS = 10 * 60_000

/** what `read` answers per sensor: the value or the error of the last poll that saw it, and its age */
type Entry = { sensor: string, celsius: number, at: number } | { sensor: string, error: string, at: number }

runModule<Config>(async (m) => {
  const board = readBoard(m.env.boardFile)
  const bus = board.onewire[m.config.bus]
  if (bus === undefined) throw new OutpostError('RESOURCE_UNKNOWN', `board ${board.name} has no 1-Wire bus "${m.config.bus}"`)
  const last = new Map<string, Entry>()
  const failing = new Set<string>()
  const counts = { polls: 0, skipped: 0, readings: 0, faults: { crc: 0, 'power-on': 0, 'zero-scratchpad': 0, 'no-temperature': 0, unreadable: 0 } as Record<FaultKind, number> }
  let polling = false

  const poll = async (): Promise<void> => {
    counts.polls++
    const present = await listSensors(bus.path)
    const now = Date.now()
    // a sensor gone from the bus answers `read` with an error from now on, not its last value
    for (const [name, entry] of last) {
      if (present.includes(entry.sensor)) continue
      const gone = 'error' in entry && entry.error === 'not on the bus'
      if (!gone) last.set(name, { sensor: entry.sensor, error: 'not on the bus', at: now })
      else if (now - entry.at > FORGET_GONE_MS) last.delete(name)
    }
    for (const sensor of present) {
      const reading = await readSensor(bus.path, sensor)
      const name = m.config.names[sensor] ?? sensor
      const at = Date.now()
      if ('error' in reading) {
        counts.faults[reading.kind]++
        last.set(name, { sensor, error: reading.error, at })
        if (!failing.has(sensor)) m.log.warn(`sensor ${name}: ${reading.error}`)
        failing.add(sensor)
        continue
      }
      if (failing.delete(sensor)) m.log.info(`sensor ${name} reads again`)
      last.set(name, { sensor, celsius: reading.celsius, at })
      counts.readings++
      m.emit('reading', { sensor: name, celsius: reading.celsius })
    }
  }
  const tick = (): void => {
    if (polling) {
      counts.skipped++
      return
    }
    polling = true
    poll().catch(err => m.log.error('poll failed', { error: err as Error })).finally(() => { polling = false })
  }

  m.hooks('reading')
  m.method('read', () => {
    const now = Date.now()
    return Object.fromEntries([...last].map(([name, { at, ...value }]) => [name, { ...value, ageMs: now - at }]))
  })
  m.method('status', () => ({ bus: m.config.bus, path: bus.path, polling, ...counts, faults: { ...counts.faults } }))
  await m.start()
  const timer = setInterval(tick, m.config.intervalMs)
  m.onStop(() => clearInterval(timer))
  m.log.info(`polling 1-Wire bus ${m.config.bus} at ${bus.path} every ${m.config.intervalMs} ms`)
})
