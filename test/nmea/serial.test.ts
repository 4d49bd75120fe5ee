// A GNSS receiver on a serial port: the recorded u-blox log sent through a PTY pair in uneven chunks, read
// by the managed serial layer with CR LF line framing and parsed, gives what parsing the file gives.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNmea } from '../../drivers/lib/nmea/index.js'
import { openSerial } from '../../drivers/lib/serial/index.js'
import { closeAfter, nextEvent, openDevice, ptyPair, until } from '../serial/sim.js'
import { logBytes, readLog } from './logs.js'

test('the u-blox log read through a serial port parses the same as the file', { timeout: 20_000 }, async t => {
  const pair = await ptyPair(t)
  const receiver = closeAfter(t, await openDevice(pair.pathB))
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'line', delimiter: '\r\n', encoding: 'latin1' } }))
  const lines: string[] = []
  serial.on('frame', line => { lines.push(line) })
  await nextEvent(serial, 'open')

  const bytes = logBytes('ublox-m8n-gn.nmea')
  const sizes = [1, 7, 64, 13, 200, 3]
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? 1
    await receiver.write(bytes.subarray(offset, offset + size))
    offset += size
  }
  const expected = readLog('ublox-m8n-gn.nmea')
  await until('every line', () => lines.length === expected.length)
  assert.deepEqual(lines, expected)
  assert.deepEqual(lines.map(line => parseNmea(line)), expected.map(line => parseNmea(line)))
})
