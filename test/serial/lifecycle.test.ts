// Unplug, replug, a port missing at start, a busy port, the write queue and its timeout: real PTYs through
// socat, socat stopped and restarted to unplug and replug.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { openSerial } from '../../drivers/lib/serial/index.js'
import type { CloseEvent } from '../../drivers/lib/serial/index.js'
import type { OutpostError } from '../../core/errors.js'
import { startPtyPair } from '../helpers/pty.js'
import { closeAfter, nextEvent, openDevice, ptyPair, tempDir, until } from './sim.js'

const fastReopen = { initialMs: 20, maxMs: 200, factor: 2 }

test('writes go out one at a time, in order, each resolving once sent', { timeout: 20_000 }, async t => {
  const pair = await ptyPair(t)
  const device = closeAfter(t, await openDevice(pair.pathB))
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'line' } }))
  await nextEvent(serial, 'open')
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ${'x'.repeat(i * 10)}`)
  await Promise.all(lines.map(line => serial.write(line)))
  const expected = lines.map(line => `${line}\n`).join('')
  await device.waitFor('all lines', got => got.length >= expected.length)
  assert.equal(device.received().toString(), expected)
  assert.equal(serial.stats.framesOut, 50)
  assert.equal(serial.stats.bytesOut, expected.length)
})

test('a write the device does not take in time fails with SERIAL_WRITE_TIMEOUT; later writes still go out', { timeout: 30_000 }, async t => {
  const pair = await ptyPair(t)
  const device = closeAfter(t, await openDevice(pair.pathB))
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' }, writeTimeoutMs: 300 }))
  await nextEvent(serial, 'open')
  // a frozen socat reads nothing: the PTY's buffer fills and the write cannot complete
  pair.pause()
  t.after(() => { pair.resume() })
  const big = Buffer.alloc(1024 * 1024, 0x55)
  await assert.rejects(serial.write(big), (err: OutpostError) => {
    assert.equal(err.code, 'SERIAL_WRITE_TIMEOUT')
    assert.match(err.message, new RegExp(`${big.length} bytes to ${pair.pathA}`))
    return true
  })
  assert.equal(serial.stats.writeTimeouts, 1)
  assert.equal(serial.isOpen, true, 'a slow device is not a disconnect')
  // the timed-out bytes were handed to serialport and still go out once the device reads again
  pair.resume()
  await device.waitFor('the timed-out write to drain', got => got.length === big.length, 15_000)
  await serial.write(Buffer.from('END'))
  await device.waitFor('the marker after the big write', got => got.length === big.length + 3)
  assert.equal(device.received().subarray(-3).toString(), 'END')
})

test('unplug: close with a reason, pending writes rejected with SERIAL_DISCONNECTED, writes refused until reopened', { timeout: 30_000 }, async t => {
  const pair = await ptyPair(t)
  closeAfter(t, await openDevice(pair.pathB))
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' }, reopen: fastReopen, writeTimeoutMs: 60_000 }))
  await nextEvent(serial, 'open')
  let closeEvents = 0
  serial.on('close', () => { closeEvents++ })
  pair.pause()
  // settled() keeps the rejections handled from the start; they are checked below
  const settled = (p: Promise<void>) => p.then(() => undefined, (err: OutpostError) => err)
  const stuck = settled(serial.write(Buffer.alloc(1024 * 1024)))
  const queued = settled(serial.write(Buffer.from('later')))
  const closed = nextEvent(serial, 'close')
  await pair.stop('SIGTERM')
  const [event] = await closed
  assert.notEqual(event.reason, 'closed')
  assert.equal(event.error?.code, 'SERIAL_DISCONNECTED')
  assert.equal((await stuck)?.code, 'SERIAL_DISCONNECTED')
  assert.equal((await queued)?.code, 'SERIAL_DISCONNECTED')
  assert.equal(serial.isOpen, false)
  await assert.rejects(serial.write('x'), { code: 'SERIAL_DISCONNECTED', message: /not open/ })
  const before = serial.stats.openAttempts
  await until('reopen attempts', () => serial.stats.openAttempts >= before + 2)
  // the failed write makes serialport emit `close` twice (the stream's destroy, then its own close)
  assert.equal(closeEvents, 1, 'one close event per real close')
  assert.equal(serial.stats.closes, 1)
})

test('replug mid-stream: the port reopens by itself and frames flow again', { timeout: 30_000 }, async t => {
  const pair = await ptyPair(t)
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'line' }, reopen: fastReopen }))
  const frames: string[] = []
  const closes: CloseEvent[] = []
  serial.on('frame', line => { frames.push(line) })
  serial.on('close', event => { closes.push(event) })
  await nextEvent(serial, 'open')

  // the device streams a numbered line every 5 ms; it is unplugged while streaming
  const stream = async (device: Awaited<ReturnType<typeof openDevice>>, prefix: string) => {
    let n = 0
    const timer = setInterval(() => { device.write(`${prefix} ${n++}\n`).catch(() => {}) }, 5)
    t.after(() => { clearInterval(timer) })
    return () => { clearInterval(timer) }
  }
  const device1 = closeAfter(t, await openDevice(pair.pathB))
  const stop1 = await stream(device1, 'before')
  await until('lines before the unplug', () => frames.length >= 5)
  const closed = nextEvent(serial, 'close')
  await pair.stop()
  await closed
  stop1()

  const reopened = nextEvent(serial, 'open')
  await pair.restart()
  await reopened
  const device2 = closeAfter(t, await openDevice(pair.pathB))
  const stop2 = await stream(device2, 'after')
  await until('lines after the replug', () => frames.some(line => line.startsWith('after ')))
  stop2()
  assert.equal(closes.length, 1)
  assert.equal(serial.stats.opens, 2)
  assert.ok(frames.every(line => /^(before|after) \d+$/.test(line)), `no torn or glued lines: ${frames.filter(l => !/^(before|after) \d+$/.test(l)).join(' | ')}`)
})

test('a port missing at start is retried and reported once, then opens when it appears', { timeout: 30_000 }, async t => {
  const dir = tempDir(t)
  const portPath = path.join(dir, 'ttyDUT')
  const serial = closeAfter(t, openSerial({ path: portPath, baudRate: 9600, framing: { type: 'line' }, reopen: fastReopen, watchIntervalMs: 50 }))
  const errors: OutpostError[] = []
  serial.on('error', err => { errors.push(err) })
  await until('several open attempts', () => serial.stats.openAttempts >= 4)
  assert.equal(errors.length, 1, 'reported once, not on every retry')
  assert.equal(errors[0]?.code, 'SERIAL_NOT_FOUND')
  assert.match(errors[0]?.message ?? '', new RegExp(`${portPath} does not exist.*/dev/serial/by-id/`))

  const opened = nextEvent(serial, 'open')
  const pair = await startPtyPair(dir)
  t.after(() => pair.stop())
  await opened
  const device = closeAfter(t, await openDevice(pair.pathB))
  const frame = nextEvent(serial, 'frame')
  await device.write('hello\n')
  assert.deepEqual(await frame, ['hello'])
  assert.equal(errors.length, 1)
})

test('a port that appears is opened without waiting out a long back-off', { timeout: 30_000 }, async t => {
  const dir = tempDir(t)
  const serial = closeAfter(t, openSerial({ path: path.join(dir, 'ttyDUT'), baudRate: 9600, framing: { type: 'raw' }, reopen: { initialMs: 600_000, maxMs: 600_000, factor: 2 }, watchIntervalMs: 50 }))
  await nextEvent(serial, 'error')
  const opened = nextEvent(serial, 'open')
  const pair = await startPtyPair(dir)
  t.after(() => pair.stop())
  await opened
  assert.equal(serial.stats.openAttempts, 2, 'the first attempt, then one when the path appeared')
})

test('a busy port is reported as SERIAL_BUSY once, and opens once the other holder lets go', { timeout: 30_000 }, async t => {
  const pair = await ptyPair(t)
  const first = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' } }))
  await nextEvent(first, 'open')
  const second = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' }, reopen: fastReopen }))
  const errors: OutpostError[] = []
  second.on('error', err => { errors.push(err) })
  await until('several open attempts', () => second.stats.openAttempts >= 4)
  assert.equal(errors.length, 1)
  assert.equal(errors[0]?.code, 'SERIAL_BUSY')
  assert.match(errors[0]?.message ?? '', /already open elsewhere/)
  assert.equal(second.isOpen, false)

  const opened = nextEvent(second, 'open')
  await first.close()
  await opened
  assert.equal(second.isOpen, true)
})

test('close() is final and idempotent: one close event, no reopening, writes refused', { timeout: 20_000 }, async t => {
  const pair = await ptyPair(t)
  const serial = openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' }, reopen: fastReopen })
  await nextEvent(serial, 'open')
  const events: CloseEvent[] = []
  serial.on('close', event => { events.push(event) })
  await Promise.all([serial.close(), serial.close()])
  await serial.close()
  assert.deepEqual(events, [{ reason: 'closed' }])
  const attempts = serial.stats.openAttempts
  await pair.restart()
  await new Promise(resolve => setTimeout(resolve, 100))
  assert.equal(serial.stats.openAttempts, attempts)
  await assert.rejects(serial.write('x'), { code: 'SERIAL_DISCONNECTED', message: /closed/ })
})

test('close() while the first open is still under way leaves nothing open', { timeout: 20_000 }, async t => {
  const pair = await ptyPair(t)
  const serial = openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' } })
  await serial.close()
  // the port is free again: another opener gets it
  const other = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'raw' } }))
  await nextEvent(other, 'open')
  assert.equal(serial.isOpen, false)
})
