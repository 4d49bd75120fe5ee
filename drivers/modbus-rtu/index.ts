// modbus-rtu driver: a Modbus RTU master on a serial port (RS-485). Configured polls become hooks
// `poll/<name>`; RPC reads and writes go through the same master, one transaction at a time.
import { runModule } from '../../core/sdk/index.js'
import { createModbusMaster, serialTransport } from '../lib/modbus/index.js'
import { openSerial } from '../lib/serial/index.js'
import { PORT_HOOKS, holdHooks, portPath, reportPort } from '../lib/serial/module-port.js'
import { readArgs, writeCoilArgs, writeCoilsArgs, writeRegisterArgs, writeRegistersArgs } from './args.js'
import { decodeRegisters } from './decode.js'
import { readWith, startPolls } from './polls.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  const { timeoutMs, retries, interFrameDelayMs, echo, baudRate } = m.config
  const path = portPath(m.config, m.env.boardFile)
  const hooks = holdHooks(m)

  const serial = openSerial({ path, baudRate: m.config.baudRate, dataBits: m.config.dataBits, parity: m.config.parity, stopBits: m.config.stopBits, framing: { type: 'raw' }, log: m.log })
  const report = reportPort(hooks, serial)
  const master = createModbusMaster(serialTransport(serial), { timeoutMs, retries, baudRate, echo, log: m.log, ...(interFrameDelayMs === undefined ? {} : { interFrameDelayMs }) })
  const polls = startPolls(m.config.polls, { master, isOpen: () => serial.isOpen, emit: hooks.emit, log: m.log })
  serial.on('open', () => { polls.runAll() })
  m.onStop(async () => {
    polls.stop()
    master.close()
    await serial.close()
  })

  m.hooks(...PORT_HOOKS, ...m.config.polls.map(p => `poll/${p.name}`))
  m.method('status', () => ({ open: serial.isOpen, path, stats: { ...serial.stats, ...master.stats }, polls: polls.status(), lastError: report.lastError }))
  m.method('read', async args => {
    const r = readArgs(args)
    const raw = await readWith(master, r.function, r.unit, r.address, r.count)
    return { values: r.function === 'coils' || r.function === 'discrete' ? raw : decodeRegisters(raw as number[], r.decoding) }
  })
  m.method('writeCoil', async args => {
    const { unit, address, value } = writeCoilArgs(args)
    await master.writeCoil(unit, address, value)
    return { written: 1 }
  })
  m.method('writeRegister', async args => {
    const { unit, address, value } = writeRegisterArgs(args)
    await master.writeRegister(unit, address, value)
    return { written: 1 }
  })
  m.method('writeCoils', async args => {
    const { unit, address, values } = writeCoilsArgs(args)
    await master.writeCoils(unit, address, values)
    return { written: values.length }
  })
  m.method('writeRegisters', async args => {
    const { unit, address, values } = writeRegistersArgs(args)
    await master.writeRegisters(unit, address, values)
    return { written: values.length }
  })
  await m.start()
  hooks.open()
  // the port's settings are logged by the serial layer once it has read them back from the open port
  m.log.info(`modbus master on ${path}`, { polls: m.config.polls.length, echo })
})
