// issue 10 G3c: serialport ignores a setting the port did not take; the layer reads the settings back (stty)
// and refuses such a port. A socat PTY really drops parity and data bits other than 8 (the kernel's pty
// driver forces CS8 and clears PARENB), while it keeps the baud rate and stop bits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { openSerial } from '../../drivers/lib/serial/index.js'
import { parseStty, settingsNotTaken } from '../../drivers/lib/serial/settings.js'
import { closeAfter, nextEvent, ptyPair } from './sim.js'

test('issue 10 G3c: stty output read into settings, and what was not taken named', () => {
  const text = 'speed 19200 baud; rows 0; columns 0; line = 0;\n-parenb parodd -cmspar cs8 hupcl cstopb cread clocal -crtscts\n'
  assert.deepEqual(parseStty(text), { baudRate: 19200, dataBits: 8, parity: 'none', stopBits: 2 })
  assert.deepEqual(parseStty('speed 9600 baud;\nparenb parodd cmspar cs7 -cstopb\n'), { baudRate: 9600, dataBits: 7, parity: 'mark', stopBits: 1 })
  assert.deepEqual(settingsNotTaken({ baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 }, { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 }),
    ['7 data bits (the port has 8)', 'parity even (the port has none)'])
})

test('issue 10 G3c: parity even on a port that cannot take it fails loudly with SERIAL_SETTINGS, and is never used', { timeout: 20_000 }, async t => {
  const pair = await ptyPair(t)
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, parity: 'even', framing: { type: 'raw' }, reopen: { initialMs: 5000 } }))
  let opened = false
  serial.on('open', () => { opened = true })
  const [error] = await nextEvent(serial, 'error')
  assert.equal(error.code, 'SERIAL_SETTINGS')
  assert.match(error.message, new RegExp(`serial port ${pair.pathA} did not take parity even \\(the port has none\\): not used \\(asked 9600 8E1`))
  assert.equal(serial.isOpen, false)
  assert.equal(opened, false)
})

test('issue 10 G3c: settings the port takes are verified, and are what the kernel holds', { timeout: 20_000 }, async t => {
  const pair = await ptyPair(t)
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 19200, stopBits: 2, framing: { type: 'raw' } }))
  await nextEvent(serial, 'open')
  const held = execFileSync('stty', ['-F', pair.pathA, '-a'], { encoding: 'utf8' })
  assert.deepEqual(parseStty(held), { baudRate: 19200, dataBits: 8, parity: 'none', stopBits: 2 })
})
