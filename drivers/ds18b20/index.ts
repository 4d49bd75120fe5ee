// ds18b20 driver: polls every sensor on a 1-Wire bus and emits `reading` per sensor.
import { runModule, OutpostError } from '../../core/sdk/index.js'
import { readBoard } from '../lib/board/index.js'
import { listSensors, readSensor } from './w1.js'
import type { Reading } from './w1.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  const board = readBoard(m.env.boardFile)
  const bus = board.onewire[m.config.bus]
  if (bus === undefined) throw new OutpostError('RESOURCE_UNKNOWN', `board ${board.name} has no 1-Wire bus "${m.config.bus}"`)
  const last = new Map<string, Reading>()
  const failing = new Set<string>()
  const poll = async (): Promise<void> => {
    for (const sensor of await listSensors(bus.path)) {
      const reading = await readSensor(bus.path, sensor)
      const name = m.config.names[sensor] ?? sensor
      last.set(name, reading)
      if ('error' in reading) {
        if (!failing.has(sensor)) m.log.warn(`sensor ${name}: ${reading.error}`)
        failing.add(sensor)
        continue
      }
      failing.delete(sensor)
      m.emit('reading', { sensor: name, celsius: reading.celsius })
    }
  }
  m.hooks('reading')
  m.method('read', () => Object.fromEntries(last))
  await m.start()
  const timer = setInterval(() => { poll().catch(err => m.log.error('poll failed', { error: err as Error })) }, m.config.intervalMs)
  m.onStop(() => clearInterval(timer))
  m.log.info(`polling 1-Wire bus ${m.config.bus} at ${bus.path} every ${m.config.intervalMs} ms`)
})
