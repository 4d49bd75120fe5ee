// serial-line driver: reads text lines from a serial port, decodes them with the configured parser and
// emits each decoded line as a hook; `write` sends text to the device.
import { runModule, OutpostError } from '../../core/sdk/index.js'
import { openSerial } from '../lib/serial/index.js'
import { createDecoder, overflowReporter } from '../lib/serial/framing.js'
import type { Decoder } from '../lib/serial/framing.js'
import { PORT_HOOKS, holdHooks, portPath, reportPort } from '../lib/serial/module-port.js'
import { createLineParser } from './parse.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  const { delimiter, encoding, hook, maxLineBytes } = m.config
  const path = portPath(m.config, m.env.boardFile)
  const parse = createLineParser(m.config.parser)
  const counts = { lines: 0, emitted: 0, unmatched: 0, tooLong: 0 }
  const reportTooLong = overflowReporter(m.log, `serial-line ${m.name}`, maxLineBytes)
  const hooks = holdHooks(m)

  // raw framing, lines cut here: `write` must be able to send text without a delimiter, and line framing
  // would add one to every write. A fresh decoder per open drops a line torn by an unplug.
  const serial = openSerial({ path, baudRate: m.config.baudRate, dataBits: m.config.dataBits, parity: m.config.parity, stopBits: m.config.stopBits, framing: { type: 'raw' }, writeTimeoutMs: m.config.writeTimeoutMs, log: m.log })
  const report = reportPort(hooks, serial)
  const onLine = (line: string): void => {
    counts.lines++
    const data = line.trim() === '' ? undefined : parse(line)
    if (data === undefined) {
      counts.unmatched++
      m.log.debug('line does not match the parser; not emitted', { line })
      return
    }
    counts.emitted++
    hooks.emit(hook, data)
  }
  let decoder: Decoder | undefined
  serial.on('open', () => {
    decoder?.destroy()
    decoder = createDecoder({ type: 'line', delimiter, encoding, maxFrameBytes: maxLineBytes }, line => { onLine(line as string) }, () => {
      counts.tooLong++
      reportTooLong()
    })
  })
  serial.on('close', () => {
    decoder?.destroy()
    decoder = undefined
  })
  serial.on('frame', chunk => { decoder?.push(chunk) })
  m.onStop(() => serial.close())

  m.hooks(...PORT_HOOKS, hook)
  m.method('status', () => ({ open: serial.isOpen, path, stats: { ...serial.stats, ...counts }, lastError: report.lastError }))
  m.method('write', async (args: { data?: unknown, newline?: unknown } | null) => {
    const data = args?.data
    const newline = args?.newline ?? true
    if (typeof data !== 'string' || typeof newline !== 'boolean') throw new OutpostError('BAD_ARGUMENTS', 'expected { data: string, newline?: boolean }')
    const bytes = Buffer.from(newline ? data + delimiter : data, encoding)
    await serial.write(bytes)
    return { bytes: bytes.length }
  })
  await m.start()
  hooks.open()
  m.log.info(`reading lines from ${path}`, { parser: m.config.parser.type, hook })
})
