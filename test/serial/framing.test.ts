// Each framing, both ways, over a real PTY pair: the managed port on one end, a simulated device on the other.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSerial } from '../../drivers/lib/serial/index.js'
import type { Framing } from '../../drivers/lib/serial/index.js'
import { closeAfter, nextEvent, openDevice, ptyPair, until } from './sim.js'
import type { TestContext } from 'node:test'

async function setUp<F extends Framing> (t: TestContext, framing: F) {
  const pair = await ptyPair(t)
  const device = closeAfter(t, await openDevice(pair.pathB))
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 115200, framing }))
  const frames: Array<Buffer | string> = []
  serial.on('frame', frame => { frames.push(frame) })
  await nextEvent(serial, 'open')
  return { device, serial, frames }
}

test('line framing: lines in as strings (CR dropped), lines out with the delimiter', { timeout: 20_000 }, async t => {
  const { device, serial, frames } = await setUp(t, { type: 'line' })
  // split across writes and with a CRLF line: frames are whole lines whatever the chunking
  await device.write('$GPGGA,1')
  await device.write('23\r\nsecond line\nthi')
  await device.write('rd\n')
  await until('three lines', () => frames.length === 3)
  assert.deepEqual(frames, ['$GPGGA,123', 'second line', 'third'])

  await serial.write('AT+CSQ')
  await serial.write(Buffer.from('ATI'))
  await device.waitFor('two lines', got => got.toString() === 'AT+CSQ\nATI\n')
  assert.equal(serial.stats.framesOut, 2)
  assert.equal(serial.stats.framesIn, 3)
})

test('line framing with CRLF keeps lone LFs inside lines and sends CRLF', { timeout: 20_000 }, async t => {
  const { device, serial, frames } = await setUp(t, { type: 'line', delimiter: '\r\n' })
  await device.write('a\nb\r\nc\r\n')
  await until('two lines', () => frames.length === 2)
  assert.deepEqual(frames, ['a\nb', 'c'])
  await serial.write('OK')
  await device.waitFor('CRLF line', got => got.toString() === 'OK\r\n')
})

test('delimiter framing: Buffers cut at a byte sequence, writes end with it', { timeout: 20_000 }, async t => {
  const { device, serial, frames } = await setUp(t, { type: 'delimiter', delimiter: Buffer.from([0xff, 0x00]) })
  await device.write(Buffer.from([1, 2, 0xff, 0x00, 3, 0xff]))
  await device.write(Buffer.from([0x00, 0xff, 0x01, 0xff, 0x00]))
  await until('three frames', () => frames.length === 3)
  assert.deepEqual(frames, [Buffer.from([1, 2]), Buffer.from([3]), Buffer.from([0xff, 0x01])])
  await serial.write(Buffer.from([9, 8]))
  await device.waitFor('delimited frame', got => got.equals(Buffer.from([9, 8, 0xff, 0x00])))
})

test('fixed framing: frames of exactly N bytes whatever the chunking', { timeout: 20_000 }, async t => {
  const { device, serial, frames } = await setUp(t, { type: 'fixed', length: 4 })
  await device.write(Buffer.from([1, 2, 3]))
  await device.write(Buffer.from([4, 5, 6, 7, 8, 9, 10]))
  await until('two frames', () => frames.length === 2)
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.deepEqual(frames, [Buffer.from([1, 2, 3, 4]), Buffer.from([5, 6, 7, 8])], 'the two trailing bytes wait for their frame')
  await device.write(Buffer.from([11, 12]))
  await until('third frame', () => frames.length === 3)
  assert.deepEqual(frames[2], Buffer.from([9, 10, 11, 12]))
  await serial.write(Buffer.from([0xaa, 0xbb, 0xcc, 0xdd]))
  await device.waitFor('raw bytes', got => got.equals(Buffer.from([0xaa, 0xbb, 0xcc, 0xdd])))
})

test('slip framing: escaped packets decoded, writes encoded (RFC 1055)', { timeout: 20_000 }, async t => {
  const { device, serial, frames } = await setUp(t, { type: 'slip' })
  // 0xC0 is END, 0xDB 0xDC an escaped END, 0xDB 0xDD an escaped ESC
  await device.write(Buffer.from([0x01, 0xdb, 0xdc, 0x02, 0xdb, 0xdd, 0xc0, 0x03, 0x04]))
  await device.write(Buffer.from([0xc0]))
  await until('two packets', () => frames.length === 2)
  assert.deepEqual(frames, [Buffer.from([0x01, 0xc0, 0x02, 0xdb]), Buffer.from([0x03, 0x04])])
  await serial.write(Buffer.from([0xc0, 0x05, 0xdb]))
  await device.waitFor('encoded packet', got => got.equals(Buffer.from([0xdb, 0xdc, 0x05, 0xdb, 0xdd, 0xc0])))
})

test('raw framing: bytes pass untouched both ways', { timeout: 20_000 }, async t => {
  const { device, serial, frames } = await setUp(t, { type: 'raw' })
  const sent = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256))
  await device.write(sent)
  await until('300 bytes', () => Buffer.concat(frames as Buffer[]).length === 300)
  assert.ok(Buffer.concat(frames as Buffer[]).equals(sent))
  await serial.write(Buffer.from('\r\n\x00\xff', 'latin1'))
  await device.waitFor('raw bytes', got => got.equals(Buffer.from([13, 10, 0, 0xff])))
})

test('bad framing and options are refused at once', () => {
  assert.throws(() => openSerial({ path: '/dev/null', baudRate: 9600, framing: { type: 'fixed', length: 0 } }), { code: 'BAD_ARGUMENTS' })
  assert.throws(() => openSerial({ path: '/dev/null', baudRate: 9600, framing: { type: 'delimiter', delimiter: '' } }), { code: 'BAD_ARGUMENTS' })
  assert.throws(() => openSerial({ path: '', baudRate: 9600, framing: { type: 'raw' } }), { code: 'BAD_ARGUMENTS' })
  assert.throws(() => openSerial({ path: '/dev/ttyS0', baudRate: -1, framing: { type: 'raw' } }), /baudRate/)
})
