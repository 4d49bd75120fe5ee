// modbus-rtu driver process on a real gateway, against pymodbus 3.0.0rc1's RTU server on the far end of a
// socat PTY pair (a Modbus implementation we did not write), and a scripted fake slave for bad CRCs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { startTestGateway, connectOperator, waitFor, watchHooks } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { ptyPair } from '../serial/sim.js'
import { registersAnswer, startFakeSlave, startPythonSlave } from '../modbus/slaves.js'
import { decodeRegisters } from '../../drivers/modbus-rtu/decode.js'

/** a gateway running the driver (started once the test listens to its hooks) on `portPath` */
async function startDriver (t: TestContext, config: Record<string, unknown>) {
  const gw = await startTestGateway({ modules: [{ name: 'plc', entry: 'drivers/modbus-rtu', enabled: false, config }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const hooks = await watchHooks(op, 'plc')
  await gw.gateway.modules.start('plc')
  await waitFor('the connected hook', () => hooks.of('connected').length === 1)
  const call = async (method: string, args?: unknown): Promise<any> => {
    const reply = await op.call('plc', method, args, 15_000)
    assert.equal(reply.error, undefined, `plc.${method}: ${JSON.stringify(reply.error)}`)
    return reply.result
  }
  const fails = async (method: string, args: unknown, code: string): Promise<{ code: string, message: string, details?: any }> => {
    const reply = await op.call('plc', method, args, 15_000)
    assert.equal(reply.error?.code, code, `plc.${method}(${JSON.stringify(args)}): ${JSON.stringify(reply)}`)
    return reply.error as { code: string, message: string, details?: any }
  }
  return { gw, op, hooks, call, fails }
}

test('register decoding: signed, 32-bit in both word orders, float, scaled without binary noise', () => {
  assert.deepEqual(decodeRegisters([1, 0xffff, 0x8000], { type: 'int16' }), [1, -1, -32768])
  assert.deepEqual(decodeRegisters([0x0001, 0x0002], { type: 'uint32' }), [65538])
  assert.deepEqual(decodeRegisters([0x0002, 0x0001], { type: 'uint32', wordOrder: 'little' }), [65538])
  assert.deepEqual(decodeRegisters([0xffff, 0xfffe], { type: 'int32' }), [-2])
  assert.deepEqual(decodeRegisters([0x41ac, 0x0000, 0xc120, 0x0000], { type: 'float32' }), [21.5, -10])
  assert.deepEqual(decodeRegisters([215, 3], { scale: 0.1 }), [21.5, 0.3])
  assert.deepEqual(decodeRegisters([0xfff6], { type: 'int16', scale: 0.5 }), [-5])
})

test('config: polls checked against the protocol and each other', { timeout: 30_000 }, async () => {
  const refused = async (polls: unknown[], message: RegExp): Promise<void> => {
    let gw: TestGateway | undefined
    await assert.rejects(async () => {
      gw = await startTestGateway({ modules: [{ name: 'plc', entry: 'drivers/modbus-rtu', config: { path: '/dev/ttyUSB9', polls } }] })
    }, message).finally(() => gw?.stop())
  }
  const poll = { name: 'a', unit: 1, function: 'holding', address: 0, count: 1, everyMs: 1000 }
  await refused([{ ...poll, function: 'coils', scale: 2 }], /coils are bits: "scale" is for registers/)
  await refused([{ ...poll, type: 'float32' }], /float32 values take two registers each/)
  await refused([{ ...poll, count: 126 }], /at most 125 holding per read/)
  await refused([poll, poll], /a poll named "a" comes earlier/)
})

const PRESET = {
  // 21.5 °C in tenths, -1 as int16, 21.5 as float32, 65538 as uint32
  hr: { 0: [215, 0xffff, 0x41ac, 0x0000, 0x0001, 0x0002] },
  ir: { 10: [230, 231] },
  co: { 20: [1, 0, 1] },
  di: { 5: [0, 1] },
}

test('against pymodbus: polls as hooks, reads, writes landing in the server, exceptions, timeouts, bad arguments', { timeout: 90_000 }, async t => {
  const pair = await ptyPair(t)
  const slave = await startPythonSlave(t, pair.pathB, 1, PRESET)
  const every = 400
  const { hooks, call, fails } = await startDriver(t, {
    path: pair.pathA,
    timeoutMs: 1000,
    retries: 1,
    polls: [
      { name: 'temperature', unit: 1, function: 'holding', address: 0, count: 1, everyMs: every, scale: 0.1 },
      { name: 'offset', unit: 1, function: 'holding', address: 1, count: 1, everyMs: every, type: 'int16' },
      { name: 'setpoint', unit: 1, function: 'holding', address: 2, count: 2, everyMs: every, type: 'float32' },
      { name: 'counter', unit: 1, function: 'holding', address: 4, count: 2, everyMs: every, type: 'uint32' },
      { name: 'voltage', unit: 1, function: 'input', address: 10, count: 2, everyMs: every },
      { name: 'relays', unit: 1, function: 'coils', address: 20, count: 3, everyMs: every },
      { name: 'switches', unit: 1, function: 'discrete', address: 5, count: 2, everyMs: every },
    ],
  })
  const expected: Record<string, unknown[]> = {
    temperature: [21.5], offset: [-1], setpoint: [21.5], counter: [65538], voltage: [230, 231], relays: [true, false, true], switches: [false, true],
  }
  for (const [name, values] of Object.entries(expected)) {
    const [first] = await waitFor(`poll/${name}`, () => hooks.of(`poll/${name}`).length > 0 && hooks.of(`poll/${name}`))
    assert.deepEqual(first.values, values, name)
  }
  assert.deepEqual(hooks.of('poll/voltage')[0], { unit: 1, function: 'input', address: 10, values: [230, 231] })

  assert.deepEqual(await call('read', { unit: 1, function: 'holding', address: 0, count: 3 }), { values: [215, 0xffff, 0x41ac] })
  assert.deepEqual(await call('read', { unit: 1, function: 'holding', address: 0, count: 2, type: 'int16', scale: 0.1 }), { values: [21.5, -0.1] })
  assert.deepEqual(await call('read', { unit: 1, function: 'discrete', address: 4, count: 3 }), { values: [false, false, true] })

  // writes land in the server's datastore (as it reports them), and read back the same
  assert.deepEqual(await call('writeRegister', { unit: 1, address: 50, value: 4321 }), { written: 1 })
  assert.deepEqual(await call('writeRegisters', { unit: 1, address: 60, values: [10, 20, 65535] }), { written: 3 })
  assert.deepEqual(await call('writeCoil', { unit: 1, address: 70, value: true }), { written: 1 })
  assert.deepEqual(await call('writeCoils', { unit: 1, address: 80, values: [1, 0, true, true] }), { written: 4 })
  const sets = slave.reports.filter(r => r.event === 'set').map(({ table, address, values }) => ({ table, address, values }))
  assert.deepEqual(sets, [
    { table: 'hr', address: 50, values: [4321] },
    { table: 'hr', address: 60, values: [10, 20, 65535] },
    { table: 'co', address: 70, values: [1] },
    { table: 'co', address: 80, values: [1, 0, 1, 1] },
  ])
  assert.deepEqual(await slave.dump('hr', 59, 5), [0, 10, 20, 65535, 0])
  assert.deepEqual(await call('read', { unit: 1, function: 'holding', address: 60, count: 3 }), { values: [10, 20, 65535] })
  assert.deepEqual(await call('read', { unit: 1, function: 'coils', address: 80, count: 4 }), { values: [true, false, true, true] })

  // a polled register changed by a write: the next poll sees it
  await call('writeRegister', { unit: 1, address: 0, value: 300 })
  await waitFor('the new temperature', () => hooks.of('poll/temperature').some(h => h.values[0] === 30))

  // an address the server does not have (100 registers: 0..99)
  const exception = await fails('read', { unit: 1, function: 'holding', address: 98, count: 5 }, 'MODBUS_EXCEPTION')
  assert.match(exception.message, /read holding registers 98\.\.102 of unit 1: the slave answered exception 2 \(ILLEGAL DATA ADDRESS\)/)
  assert.equal(exception.details?.exception, 2)
  await fails('writeRegister', { unit: 1, address: 100, value: 1 }, 'MODBUS_EXCEPTION')

  // a unit nobody serves: the configured timeout, tried twice (retries: 1)
  const before = (await call('status')).stats
  const timeout = await fails('read', { unit: 7, function: 'input', address: 0, count: 1 }, 'MODBUS_TIMEOUT')
  assert.match(timeout.message, /unit 7: no answer within 1000 ms/)
  const after = (await call('status')).stats
  assert.equal(after.timeouts - before.timeouts, 2)
  assert.equal(after.retries - before.retries, 1)

  // arguments no slave could take never reach the bus
  await fails('read', { unit: 1, function: 'registers', address: 0, count: 1 }, 'BAD_ARGUMENTS')
  await fails('read', { unit: 1, function: 'holding', address: 0 }, 'BAD_ARGUMENTS')
  await fails('read', { unit: 300, function: 'holding', address: 0, count: 1 }, 'BAD_ARGUMENTS')
  await fails('read', { unit: 1, function: 'coils', address: 0, count: 1, scale: 2 }, 'BAD_ARGUMENTS')
  await fails('writeRegister', { unit: 1, address: 0, value: 70_000 }, 'BAD_ARGUMENTS')
  await fails('writeCoil', { unit: 1, address: 0, value: 'on' }, 'BAD_ARGUMENTS')
  await fails('writeCoils', { unit: 1, address: 0, values: [] }, 'BAD_ARGUMENTS')
  await fails('writeRegisters', null, 'BAD_ARGUMENTS')
  // issue 10 G3d: a 32-bit type over an odd count used to drop the last register without a word
  const odd = await fails('read', { unit: 1, function: 'holding', address: 2, count: 3, type: 'float32' }, 'BAD_ARGUMENTS')
  assert.match(odd.message, /float32 values take two registers each: count must be even, not 3/)

  const status = await call('status')
  assert.equal(status.open, true)
  assert.equal(status.path, pair.pathA)
  assert.equal(status.polls.temperature.failed, 0)
  assert.ok(status.polls.temperature.ok >= 2)
  assert.equal(status.stats.crcErrors, 0)
  assert.ok(status.stats.exceptions >= 2)
})

test('a slave answering with a bad CRC: MODBUS_CRC after the configured retries, then a good answer', { timeout: 60_000 }, async t => {
  const pair = await ptyPair(t)
  const fake = await startFakeSlave(t, pair.pathB, (_request, index) => {
    const answer = registersAnswer(1, [1, 2])
    // the first three answers arrive damaged (the last CRC byte flipped)
    if (index < 3) answer[answer.length - 1] = (answer[answer.length - 1] ?? 0) ^ 0xff
    return answer
  })
  const { call, fails } = await startDriver(t, { path: pair.pathA, timeoutMs: 500, retries: 2 })
  const crc = await fails('read', { unit: 1, function: 'holding', address: 0, count: 2 }, 'MODBUS_CRC')
  assert.match(crc.message, /failed its CRC check/)
  assert.equal(fake.requests.length, 3, 'the first attempt and two retries')
  assert.equal((await call('status')).stats.crcErrors, 3)
  assert.deepEqual(await call('read', { unit: 1, function: 'holding', address: 0, count: 2 }), { values: [1, 2] })
})

test('issue 10 G3e: with the polled slave off, an RPC goes before the queued polls; polls that fall behind are skipped and counted', { timeout: 60_000 }, async t => {
  const pair = await ptyPair(t)
  // unit 2 (polled) is off; unit 1 answers
  const fake = await startFakeSlave(t, pair.pathB, request => (request[0] === 1 ? registersAnswer(1, [7]) : undefined))
  const { call } = await startDriver(t, {
    path: pair.pathA,
    timeoutMs: 300,
    retries: 1,
    polls: [0, 1, 2, 3, 4, 5].map(i => ({ name: `p${i}`, unit: 2, function: 'holding', address: i, count: 1, everyMs: 100 })),
  })
  // every poll read is queued or on the wire by now
  await waitFor('polls on the wire', () => fake.requests.length >= 2)
  const before = fake.requests.length
  assert.deepEqual(await call('read', { unit: 1, function: 'holding', address: 0, count: 1 }), { values: [7] })
  const rpcAt = fake.requests.findIndex((r, i) => i >= before - 1 && r[0] === 1)
  // at most the poll on the wire when the call came (its attempt and its retry) went before it
  assert.ok(rpcAt - before <= 1, `the call was request ${rpcAt}, ${rpcAt - before} after the polls queued when it came`)
  const status = await call('status')
  const skipped = Object.values(status.polls as Record<string, { skipped: number }>).reduce((sum, p) => sum + p.skipped, 0)
  assert.ok(skipped > 0, 'polls that were still queued skipped their ticks')
  assert.ok(status.stats.drains > 0)
})

test('issue 10 G3c: parity even on a port that cannot take it: the driver reports SERIAL_SETTINGS and never runs without it', { timeout: 60_000 }, async t => {
  const pair = await ptyPair(t)
  const gw = await startTestGateway({ modules: [{ name: 'plc', entry: 'drivers/modbus-rtu', enabled: false, config: { path: pair.pathA, parity: 'even' } }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const hooks = await watchHooks(op, 'plc')
  await gw.gateway.modules.start('plc')
  const [down] = await waitFor('the disconnected hook', () => hooks.of('disconnected').length > 0 && hooks.of('disconnected'))
  assert.equal(down.code, 'SERIAL_SETTINGS')
  assert.match(down.message, /did not take parity even \(the port has none\)/)
  const status = (await op.call('plc', 'status')).result as any
  assert.equal(status.open, false)
  assert.equal(status.lastError.code, 'SERIAL_SETTINGS')
  assert.equal(hooks.of('connected').length, 0)
  assert.ok(!gw.logs.some(l => l.source === 'plc' && /serial port open/.test(l.text)), 'the port was never used')
})
