// The master, through the managed serial layer, against pymodbus 3.0.0rc1's RTU server on the far end of a
// PTY pair: a Modbus implementation we did not write decides whether our frames are right.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { createModbusMaster, serialTransport } from '../../drivers/lib/modbus/index.js'
import { openSerial } from '../../drivers/lib/serial/index.js'
import type { OutpostError } from '../../core/errors.js'
import { closeAfter, nextEvent, ptyPair } from '../serial/sim.js'
import { startPythonSlave } from './slaves.js'

const PRESET = {
  hr: { 0: [1, 2, 3, 65535], 40: [0x1234] },
  ir: { 10: [230, 231, 232] },
  // 10 coils over two bytes: 1 0 1 1 0 0 1 1 | 1 0
  co: { 20: [1, 0, 1, 1, 0, 0, 1, 1, 1, 0] },
  di: { 5: [0, 1, 1] },
}

async function setUp (t: TestContext, options: { timeoutMs?: number, retries?: number } = {}) {
  const pair = await ptyPair(t)
  const slave = await startPythonSlave(t, pair.pathB, 1, PRESET)
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' } }))
  await nextEvent(serial, 'open')
  const master = createModbusMaster(serialTransport(serial), { timeoutMs: options.timeoutMs ?? 1000, retries: options.retries ?? 1 })
  t.after(() => { master.close() })
  return { pair, slave, serial, master }
}

test('reads the values preset in the pymodbus datastore, with every read function', { timeout: 30_000 }, async t => {
  const { master } = await setUp(t)
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 4), [1, 2, 3, 65535])
  assert.deepEqual(await master.readHoldingRegisters(1, 40, 1), [0x1234])
  assert.deepEqual(await master.readInputRegisters(1, 10, 3), [230, 231, 232])
  assert.deepEqual(await master.readCoils(1, 20, 10), [true, false, true, true, false, false, true, true, true, false])
  assert.deepEqual(await master.readDiscreteInputs(1, 4, 5), [false, false, true, true, false])
  assert.equal(master.stats.transactions, 5)
  assert.equal(master.stats.retries, 0)
})

test('writes land in the pymodbus datastore (as it reports them) and read back the same', { timeout: 30_000 }, async t => {
  const { master, slave } = await setUp(t)
  await master.writeRegister(1, 50, 4321)
  await master.writeRegisters(1, 60, [10, 20, 30, 0xffff])
  await master.writeCoil(1, 70, true)
  await master.writeCoils(1, 80, [true, true, false, true, false, false, false, false, true])

  const sets = slave.reports.filter(r => r.event === 'set').map(({ table, address, values }) => ({ table, address, values }))
  assert.deepEqual(sets, [
    { table: 'hr', address: 50, values: [4321] },
    { table: 'hr', address: 60, values: [10, 20, 30, 65535] },
    { table: 'co', address: 70, values: [1] },
    { table: 'co', address: 80, values: [1, 1, 0, 1, 0, 0, 0, 0, 1] },
  ])
  assert.deepEqual(await slave.dump('hr', 59, 6), [0, 10, 20, 30, 65535, 0])
  assert.deepEqual(await slave.dump('co', 80, 9), [1, 1, 0, 1, 0, 0, 0, 0, 1])

  assert.deepEqual(await master.readHoldingRegisters(1, 50, 1), [4321])
  assert.deepEqual(await master.readHoldingRegisters(1, 60, 4), [10, 20, 30, 65535])
  assert.deepEqual(await master.readCoils(1, 70, 1), [true])
  assert.deepEqual(await master.readCoils(1, 80, 9), [true, true, false, true, false, false, false, false, true])
})

test('an address the slave does not have: MODBUS_EXCEPTION 2, ILLEGAL DATA ADDRESS, without retrying', { timeout: 30_000 }, async t => {
  const { master } = await setUp(t)
  await assert.rejects(master.readHoldingRegisters(1, 98, 5), (err: OutpostError) => {
    assert.equal(err.code, 'MODBUS_EXCEPTION')
    assert.equal(err.details?.exception, 2)
    assert.equal(err.details?.exceptionName, 'ILLEGAL DATA ADDRESS')
    assert.match(err.message, /read holding registers 98\.\.102 of unit 1: the slave answered exception 2 \(ILLEGAL DATA ADDRESS\)/)
    return true
  })
  assert.equal(master.stats.retries, 0)
  // the bus is usable right after
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 1), [1])
})

test('a unit nobody serves times out after the retries; the next call to a real unit works', { timeout: 30_000 }, async t => {
  const { master } = await setUp(t, { timeoutMs: 200, retries: 2 })
  await assert.rejects(master.readHoldingRegisters(7, 0, 1), (err: OutpostError) => {
    assert.equal(err.code, 'MODBUS_TIMEOUT')
    assert.match(err.message, /unit 7: no answer within 200 ms/)
    return true
  })
  assert.equal(master.stats.timeouts, 3)
  assert.equal(master.stats.retries, 2)
  assert.deepEqual(await master.readHoldingRegisters(1, 1, 2), [2, 3])
})

test('a stopped server times out; a restarted one answers again', { timeout: 30_000 }, async t => {
  const { master, slave, pair } = await setUp(t, { timeoutMs: 200, retries: 0 })
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 1), [1])
  await slave.stop()
  await assert.rejects(master.readHoldingRegisters(1, 0, 1), { code: 'MODBUS_TIMEOUT' })
  await startPythonSlave(t, pair.pathB, 1, { hr: { 0: [99] } })
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 1), [99])
})
