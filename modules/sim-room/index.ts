// sim-room module: reads the heater line's simulated level, integrates the room temperature and writes it
// where a DS18B20 driver reads it. `crash` is its fault injection: the process throws.
import { mkdirSync, writeFileSync, renameSync } from 'node:fs'
import path from 'node:path'
import { runModule, OutpostError } from '../../core/sdk/index.js'
import { readBoard, findLine } from '../../drivers/lib/board/index.js'
import { simRead } from '../../drivers/lib/gpio/sim.js'
import type { Config } from './schema.js'

function w1Slave (celsius: number): string {
  const milli = Math.round(celsius * 1000)
  return `72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=${milli}\n`
}

runModule<Config>(async (m) => {
  const board = readBoard(m.env.boardFile)
  const simRoot = m.env.simRoot
  const bus = board.onewire[m.config.bus]
  if (!board.simulated || simRoot === undefined || bus === undefined) throw new OutpostError('RESOURCE_UNKNOWN', 'sim-room runs only on a simulated board with a 1-Wire bus')
  const heater = findLine(board, m.config.heaterLine)
  const dir = path.join(bus.path, m.config.sensorId)
  mkdirSync(dir, { recursive: true })
  let celsius = m.config.start
  const publish = (): void => {
    // write then rename, so the driver never reads half a file
    writeFileSync(path.join(dir, 'w1_slave.tmp'), w1Slave(celsius))
    renameSync(path.join(dir, 'w1_slave.tmp'), path.join(dir, 'w1_slave'))
  }
  publish()
  m.method('temperature', () => ({ celsius }))
  m.method('crash', () => {
    setImmediate(() => { throw new Error('simulated fault requested over RPC') })
    return 'crashing'
  })
  await m.start()
  const dt = m.config.stepMs / 1000
  const timer = setInterval(() => {
    const on = simRead(simRoot, heater.chipLabel, heater.offset) === 1
    celsius += (on ? m.config.heatRate * dt : 0) - (celsius - m.config.ambient) * m.config.lossRate * dt
    publish()
  }, m.config.stepMs)
  m.onStop(() => clearInterval(timer))
})
