// Master faults pymodbus will not produce, with a scripted fake slave in Node on the far end of a PTY pair:
// bad CRCs, noise between transactions, a late answer arriving during the next transaction, one transaction
// at a time, broadcast.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { createModbusMaster, interFrameGapMs, serialTransport, withCrc } from '../../drivers/lib/modbus/index.js'
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

/** values a fake slave keeps at a holding address: 100 × address + offset, so a misplaced answer shows */
const valuesAt = (address: number, count: number): number[] => Array.from({ length: count }, (_, i) => 100 * (address + i))
const readAnswer = (request: Buffer): Buffer => registersAnswer(request[0] ?? 0, valuesAt(request.readUInt16BE(2), request.readUInt16BE(4)))

test('issue 10 G3a: a slave answering after the timeout never has its answer taken for the next request', { timeout: 30_000 }, async t => {
  // the reported case: answers 400 ms after each request, timeout 300 ms, no retries, reads of 0..1, 10..11, 20..21
  const { master } = await setUp(t, async request => {
    await new Promise(resolve => setTimeout(resolve, 400))
    return readAnswer(request)
  }, { timeoutMs: 300, retries: 0 })
  const outcomes: Array<number[] | string> = []
  for (const address of [0, 10, 20]) {
    outcomes.push(await master.readHoldingRegisters(1, address, 2).catch((err: OutpostError) => err.code))
  }
  // before: [MODBUS_TIMEOUT, values of 0..1, values of 10..11]; each outcome is now its own answer or a timeout
  outcomes.forEach((outcome, i) => {
    if (outcome !== 'MODBUS_TIMEOUT') assert.deepEqual(outcome, valuesAt([0, 10, 20][i] ?? 0, 2), `read ${i}`)
  })
  assert.equal(outcomes[0], 'MODBUS_TIMEOUT')
  assert.ok(master.stats.drains >= 1, 'the late answer was drained before the next request')

  // a slave answering in time afterwards is read right at once
  const { master: prompt } = await setUp(t, request => readAnswer(request), { timeoutMs: 300, retries: 0 })
  assert.deepEqual(await prompt.readHoldingRegisters(1, 10, 2), valuesAt(10, 2))
})

test('issue 10 G3a: after a timeout the next request waits for a quiet line, so a late answer cannot be the next answer', { timeout: 30_000 }, async t => {
  // the first answer comes late (after the timeout); later ones in time
  const { master, slave } = await setUp(t, async (request, index) => {
    if (index === 0) await new Promise(resolve => setTimeout(resolve, 500))
    return readAnswer(request)
  }, { timeoutMs: 300, retries: 0 })
  await assert.rejects(master.readHoldingRegisters(1, 0, 2), { code: 'MODBUS_TIMEOUT' })
  assert.deepEqual(await master.readHoldingRegisters(1, 10, 2), valuesAt(10, 2))
  assert.deepEqual(await master.readHoldingRegisters(1, 20, 2), valuesAt(20, 2))
  assert.equal(slave.requests.length, 3)
  assert.equal(master.stats.drains, 1)
})

test('issue 10 G3b: a transceiver echoing the request: echo:true skips and checks the echo; without it every read fails', { timeout: 30_000 }, async t => {
  let corruptEcho = false
  const { master, slave } = await setUp(t, async request => {
    const sent = withCrc(request)
    if (corruptEcho) sent[1] = 0x04
    await slave.send(sent)
    return readAnswer(request)
  }, { timeoutMs: 300, retries: 0, echo: true })
  assert.deepEqual(await master.readHoldingRegisters(1, 0, 2), valuesAt(0, 2))
  assert.deepEqual(await master.readHoldingRegisters(1, 30, 3), valuesAt(30, 3))
  await master.writeRegister(0, 5, 9) // a broadcast: only the echo comes back
  corruptEcho = true
  await assert.rejects(master.readHoldingRegisters(1, 0, 2), (err: OutpostError) => {
    assert.equal(err.code, 'MODBUS_ECHO')
    assert.match(err.message, /the echo .* does not match the request's bytes/)
    return true
  })
  corruptEcho = false
  assert.deepEqual(await master.readHoldingRegisters(1, 40, 2), valuesAt(40, 2), 'the next transaction is clean again')
  assert.equal(master.stats.echoErrors, 1)

  // the same transceiver without echo:true: the echo is taken for an answer and fails its check
  const { master: plain, slave: echoing } = await setUp(t, async request => {
    await echoing.send(withCrc(request))
    return readAnswer(request)
  }, { timeoutMs: 300, retries: 0 })
  await assert.rejects(plain.readHoldingRegisters(1, 0, 2), { code: 'MODBUS_CRC' })
})

test('issue 10 G3e: calls go before queued background work (polls)', { timeout: 30_000 }, async t => {
  const order: number[] = []
  const { master } = await setUp(t, async request => {
    order.push(request.readUInt16BE(2))
    await new Promise(resolve => setTimeout(resolve, 20))
    return readAnswer(request)
  }, { timeoutMs: 500, retries: 0 })
  const polls = [1, 2, 3, 4, 5].map(address => master.readHoldingRegisters(1, address, 1, { background: true }))
  const call = master.readHoldingRegisters(1, 99, 1)
  await Promise.all([...polls, call])
  // the first poll was already on the wire when the call came; the call went next, before the other polls
  assert.deepEqual(order, [1, 99, 2, 3, 4, 5])
})

test('issue 10 G3a: the inter-frame gap is 3.5 characters at the baud rate, 1.75 ms above 19200 baud', () => {
  assert.ok(Math.abs(interFrameGapMs(9600) - 4.0104) < 0.001)
  assert.ok(Math.abs(interFrameGapMs(2400) - 16.0417) < 0.001)
  assert.equal(interFrameGapMs(115_200), 1.75)
})
