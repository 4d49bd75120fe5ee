// nmea-gps driver: NMEA 0183 from a GNSS receiver → `position` per epoch with a fix, `fix` when the fix is
// acquired or lost. Lines failing their checksum are counted and dropped.
import { runModule } from '../../core/sdk/index.js'
import { parseNmea } from '../lib/nmea/index.js'
import { openSerial } from '../lib/serial/index.js'
import { PORT_HOOKS, holdHooks, portPath, reportPort } from '../lib/serial/module-port.js'
import { combine, groupEpochs } from './epoch.js'
import type { Epoch, Position } from './epoch.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  const path = portPath(m.config, m.env.boardFile)
  const stats = { sentences: 0, checksumErrors: 0, malformed: 0, unsupported: 0, positions: 0 }
  const hooks = holdHooks(m)
  let fix = false
  let last: (Position & { receivedAt: number }) | null = null

  const setFix = (now: boolean, reason: 'receiver' | 'disconnected', epoch?: Epoch): void => {
    if (now === fix) return
    fix = now
    hooks.emit('fix', {
      fix,
      reason,
      fixQuality: epoch?.gga?.fixQuality ?? null,
      fixQualityName: epoch?.gga?.fixQualityName ?? null,
      satellites: epoch?.gga?.satellites ?? null,
      time: epoch?.time ?? null,
    })
  }

  const epochs = groupEpochs(epoch => {
    const { fix: now, position } = combine(epoch)
    setFix(now, 'receiver', epoch)
    if (position === null) return
    last = { ...position, receivedAt: Date.now() }
    stats.positions++
    hooks.emit('position', position)
  })

  const onLine = (line: string): void => {
    const result = parseNmea(line)
    if (result.ok) {
      stats.sentences++
      epochs.push(result.sentence)
      return
    }
    if (result.reason === 'unsupported') {
      stats.unsupported++
      return
    }
    if (result.reason === 'checksum') stats.checksumErrors++
    else stats.malformed++
    m.log.debug(`nmea sentence rejected: ${result.message}`, { line })
  }

  // latin1: a receiver may mix binary (UBX) bytes into the stream, which must not break the decoding of text
  const serial = openSerial({ path, baudRate: m.config.baudRate, dataBits: m.config.dataBits, parity: m.config.parity, stopBits: m.config.stopBits, framing: { type: 'line', delimiter: '\n', encoding: 'latin1' }, log: m.log })
  const report = reportPort(hooks, serial)
  serial.on('frame', onLine)
  serial.on('close', () => {
    epochs.flush()
    setFix(false, 'disconnected')
  })
  m.onStop(() => serial.close())

  m.hooks(...PORT_HOOKS, 'position', 'fix')
  m.method('status', () => ({ open: serial.isOpen, path, fix, stats: { ...serial.stats, ...stats }, lastError: report.lastError }))
  m.method('position', () => last)
  await m.start()
  hooks.open()
  m.log.info(`reading NMEA from ${path}`, { baudRate: m.config.baudRate })
})
