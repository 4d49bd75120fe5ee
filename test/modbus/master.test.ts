// Master faults pymodbus will not produce, with a scripted fake slave in Node on the far end of a PTY pair:
// bad CRCs, noise between transactions, a late answer arriving during the next transaction, one transaction
// at a time, broadcast.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { createModbusMaster, serialTransport, withCrc } from '../../drivers/lib/modbus/index.js'
import type { ModbusMasterOptions } from '../../drivers/lib/modbus/index.js'
import { openSerial } from '../../drivers/lib/serial/index.js'
import type { OutpostError } from '../../core/errors.js'
import { closeAfter, nextEvent, ptyPair, until } from '../serial/sim.js'
import { registersAnswer, startFakeSlave } from './slaves.js'
import type { FakeSlave } from './slaves.js'

async function setUp (t: TestContext, answer: Parameters<typeof startFakeSlave>[2], options: Partial<ModbusMasterOptions> = {}) {
  const pair = await ptyPair(t)
  const slave: FakeSlave = await startFakeSlave(t, pair.pathB, answer)
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' } }))
  await nextEvent(serial, 'open')
  const master = createModbusMaster(serialTransport(serial), { timeoutMs: 500, retries: 2, ...options })
  t.after(() => { master.close() })
  return { slave, master, serial }
}

test('an answer with a bad CRC fails with MODBUS_CRC after the retries', { timeout: 20_000 }, async t => {
  const { master, slave } = await setUp(t, request => {
    const good = registersAnswer(request[0] ?? 0, [42])
    good[good.length - 1] = (good[good.length - 1] ?? 0) ^ 0xff
    return good
  })
  await assert.rejects(master.readHoldingRegisters(1, 0, 1), (err: OutpostError) => {
    assert.equal(err.code, 'MODBUS_CRC')
    assert.match(err.message, /read holding registers 0 of unit 1: the answer failed its CRC check/)
    return true
  })
  assert.equal(slave.requests.length, 3, 'first attempt and two retries')
  assert.equal(master.stats.crcErrors, 3)
})

test('one corrupted answer is cured by the retry', { timeout: 20_000 }, async t => {
  const { master } = await setUp(t, (request, index) => {
    const answer = registersAnswer(1, [7, 8])
    if (index === 0) answer[4] = 0x55 // a flipped data byte: the CRC no longer matches
    return answer
  })
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 2), [7, 8])
  assert.equal(master.stats.crcErrors, 1)
  assert.equal(master.stats.retries, 1)
})

test('noise between transactions is dropped, not taken for the next answer', { timeout: 20_000 }, async t => {
  const { master, slave } = await setUp(t, request => registersAnswer(1, [request.readUInt16BE(2)]))
  assert.deepEqual(await master.readHoldingRegisters(1, 5, 1), [5])
  // bytes nobody asked for, shaped like an answer to the next request
  const noise = registersAnswer(1, [0xdead])
  await slave.send(noise)
  await until('the noise to be dropped', () => master.stats.discardedBytes >= noise.length)
  assert.deepEqual(await master.readHoldingRegisters(1, 6, 1), [6])
})

test('a late answer to a timed-out request is skipped when it arrives during the next transaction', { timeout: 20_000 }, async t => {
  let held: Buffer | undefined
  const { master } = await setUp(t, (request, index) => {
    const count = request.readUInt16BE(4)
    const answer = registersAnswer(1, Array.from({ length: count }, (_, i) => 100 * (index + 1) + i))
    if (index === 0) {
      // stay silent until the next request, then send the stale answer just before the right one
      held = answer
      return undefined
    }
    return Buffer.concat([held ?? Buffer.alloc(0), answer])
  }, { timeoutMs: 300, retries: 0 })
  await assert.rejects(master.readHoldingRegisters(1, 0, 3), { code: 'MODBUS_TIMEOUT' })
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 2), [200, 201])
})

test('garbage before the answer is skipped while looking for it', { timeout: 20_000 }, async t => {
  const { master } = await setUp(t, () => Buffer.concat([Buffer.from([0x00, 0xff, 0x01, 0x17]), registersAnswer(1, [9])]))
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 1), [9])
})

test('calls made together run one transaction at a time, in order, each getting its own answer', { timeout: 20_000 }, async t => {
  let outstanding = 0
  let overlapped = false
  const { master } = await setUp(t, async request => {
    outstanding++
    if (outstanding > 1) overlapped = true
    await new Promise(resolve => setTimeout(resolve, 10))
    outstanding--
    return registersAnswer(1, [request.readUInt16BE(2) * 2])
  })
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => master.readHoldingRegisters(1, i, 1)))
  assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => [i * 2]))
  assert.equal(overlapped, false)
})

test('a failed call does not block the queue behind it', { timeout: 20_000 }, async t => {
  const { master } = await setUp(t, (request, index) => (index === 0 ? withCrc(Buffer.from([1, 0x83, 0x04])) : registersAnswer(1, [1])))
  const [first, second] = await Promise.allSettled([master.readHoldingRegisters(1, 0, 1), master.readHoldingRegisters(1, 0, 1)])
  assert.equal(first.status, 'rejected')
  assert.equal((first as PromiseRejectedResult).reason.details.exceptionName, 'SLAVE DEVICE FAILURE')
  assert.deepEqual((second as PromiseFulfilledResult<number[]>).value, [1])
})

test('broadcast writes (unit 0) expect no answer', { timeout: 20_000 }, async t => {
  const { master, slave } = await setUp(t, () => undefined, { timeoutMs: 5000 })
  await master.writeRegister(0, 3, 77)
  await until('the slave to hear the broadcast', () => slave.requests.length === 1)
  assert.deepEqual(slave.requests[0], withCrc(Buffer.from([0, 6, 0, 3, 0, 77])))
  assert.equal(master.stats.timeouts, 0)
})

test('a disconnected port fails the call at once with the serial error, not a timeout', { timeout: 20_000 }, async t => {
  const { master, serial } = await setUp(t, () => undefined, { timeoutMs: 5000, retries: 3 })
  await serial.close()
  await assert.rejects(master.readHoldingRegisters(1, 0, 1), { code: 'SERIAL_DISCONNECTED' })
  assert.equal(master.stats.retries, 0)
})

test('bad arguments are refused before anything is sent', { timeout: 20_000 }, async t => {
  const { master, slave } = await setUp(t, () => registersAnswer(1, [5]))
  await assert.rejects(master.readHoldingRegisters(1, 0, 200), { code: 'BAD_ARGUMENTS' })
  await assert.rejects(master.readCoils(0, 0, 1), { code: 'BAD_ARGUMENTS' })
  await assert.rejects(master.writeRegister(1, 0, 1.5), { code: 'BAD_ARGUMENTS' })
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 1), [5])
  assert.equal(slave.requests.length, 1, 'only the good request reached the wire')
  master.close()
  await assert.rejects(master.readHoldingRegisters(1, 0, 1), { code: 'UNAVAILABLE' })
})
