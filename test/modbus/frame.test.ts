// CRC and frames against known vectors (the CRC-16/MODBUS check value, and request frames cross-checked
// with pymodbus's computeCRC and the Modbus specification's examples).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkCrc, crc16, encodeRequest, parseResponse, responseLength, withCrc } from '../../drivers/lib/modbus/index.js'
import type { ModbusRequest } from '../../drivers/lib/modbus/index.js'
import { OutpostError } from '../../core/errors.js'

const hex = (text: string): Buffer => Buffer.from(text.replaceAll(' ', ''), 'hex')

test('CRC-16/MODBUS: catalogue check value and wire order', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x4b37)
  assert.deepEqual(withCrc(hex('01 03 00 00 00 0A')), hex('01 03 00 00 00 0A C5 CD'))
  assert.equal(checkCrc(hex('01 03 00 00 00 0A C5 CD')), true)
  assert.equal(checkCrc(hex('01 03 00 00 00 0A CD C5')), false, 'bytes swapped')
  assert.equal(checkCrc(hex('01 03 00 00 00 0B C5 CD')), false, 'payload changed')
  assert.equal(checkCrc(hex('C5')), false, 'too short')
})

test('requests encode as the specification and pymodbus have them', () => {
  const vectors: Array<[ModbusRequest, string]> = [
    [{ fc: 3, unit: 1, address: 0, count: 10 }, '01 03 00 00 00 0A C5 CD'],
    [{ fc: 1, unit: 1, address: 0, count: 10 }, '01 01 00 00 00 0A BC 0D'],
    [{ fc: 4, unit: 1, address: 0, count: 1 }, '01 04 00 00 00 01 31 CA'],
    [{ fc: 6, unit: 0x11, address: 1, value: 3 }, '11 06 00 01 00 03 9A 9B'],
    [{ fc: 5, unit: 1, address: 0xac, value: true }, '01 05 00 AC FF 00 4C 1B'],
    // the specification's FC15 example: coils 20..29 (address 0x13) = CD 01
    [{ fc: 15, unit: 1, address: 0x13, values: [true, false, true, true, false, false, true, true, true, false] }, '01 0F 00 13 00 0A 02 CD 01 72 CB'],
    [{ fc: 16, unit: 1, address: 1, values: [0x000a, 0x0102] }, '01 10 00 01 00 02 04 00 0A 01 02 92 30'],
  ]
  for (const [req, wire] of vectors) assert.deepEqual(encodeRequest(req), hex(wire), JSON.stringify(req))
})

test('response lengths follow from the first bytes', () => {
  assert.equal(responseLength(hex('01')), undefined)
  assert.equal(responseLength(hex('01 03')), undefined, 'a read needs its byte count')
  assert.equal(responseLength(hex('01 03 14')), 3 + 20 + 2)
  assert.equal(responseLength(hex('01 01 02')), 7)
  assert.equal(responseLength(hex('01 83')), 5)
  assert.equal(responseLength(hex('01 06')), 8)
  assert.equal(responseLength(hex('01 10')), 8)
  assert.equal(responseLength(hex('01 2B')), undefined, 'a function this master does not speak')
})

test('responses decode into values and are checked against their request', () => {
  const read: ModbusRequest = { fc: 3, unit: 1, address: 0, count: 2 }
  assert.deepEqual(parseResponse(read, withCrc(hex('01 03 04 00 07 FF FF'))), { kind: 'ok', values: [7, 65535] })
  assert.equal(parseResponse(read, withCrc(hex('01 03 02 00 07'))).kind, 'mismatch', 'wrong byte count')
  assert.equal(parseResponse(read, withCrc(hex('02 03 04 00 07 FF FF'))).kind, 'mismatch', 'wrong unit')
  assert.deepEqual(parseResponse(read, withCrc(hex('01 83 02'))), { kind: 'exception', code: 2 })

  // coils LSB first: CD 01 = 1011 0011 1
  const coils: ModbusRequest = { fc: 1, unit: 1, address: 0x13, count: 10 }
  assert.deepEqual(parseResponse(coils, withCrc(hex('01 01 02 CD 01'))),
    { kind: 'ok', values: [true, false, true, true, false, false, true, true, true, false] })

  const write: ModbusRequest = { fc: 6, unit: 0x11, address: 1, value: 3 }
  assert.deepEqual(parseResponse(write, hex('11 06 00 01 00 03 9A 9B')), { kind: 'ok' })
  assert.equal(parseResponse(write, withCrc(hex('11 06 00 01 00 04'))).kind, 'mismatch', 'echo of another value')
  const multi: ModbusRequest = { fc: 16, unit: 1, address: 1, values: [1, 2] }
  assert.deepEqual(parseResponse(multi, withCrc(hex('01 10 00 01 00 02'))), { kind: 'ok' })
  assert.equal(parseResponse(multi, withCrc(hex('01 10 00 01 00 03'))).kind, 'mismatch')
})

test('requests outside the protocol\'s limits are refused with BAD_ARGUMENTS', () => {
  const refused = (req: ModbusRequest, pattern: RegExp): void => {
    assert.throws(() => encodeRequest(req), (err: unknown) => err instanceof OutpostError && err.code === 'BAD_ARGUMENTS' && pattern.test(err.message))
  }
  refused({ fc: 3, unit: 1, address: 0, count: 126 }, /count must be 1\.\.125/)
  refused({ fc: 1, unit: 1, address: 0, count: 0 }, /count must be 1\.\.2000/)
  refused({ fc: 3, unit: 0, address: 0, count: 1 }, /broadcast, for writes only/)
  refused({ fc: 6, unit: 248, address: 0, value: 1 }, /unit must be 0\.\.247/)
  refused({ fc: 4, unit: 1, address: 65530, count: 10 }, /outside 0\.\.65535/)
  refused({ fc: 16, unit: 1, address: 0, values: [70000] }, /register value 70000/)
  refused({ fc: 6, unit: 1, address: 0, value: -1 }, /register value -1/)
})
