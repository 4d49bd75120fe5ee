// The cure for serialport missing a vanished device (bindings-cpp #162): the managed port watches its device
// path and closes and reopens when the path disappears or leads to another device. The link tricks below
// change nothing serialport could see (its file descriptor stays valid), so only the watcher can notice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { renameSync, rmSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { openSerial } from '../../drivers/lib/serial/index.js'
import type { CloseEvent } from '../../drivers/lib/serial/index.js'
import type { OutpostError } from '../../core/errors.js'
import { closeAfter, nextEvent, openDevice, ptyPair, tempDir, until } from './sim.js'

const fastReopen = { initialMs: 20, maxMs: 200, factor: 2 }

test('a device path that vanishes while open is noticed: close "vanished", retries, reopens when it is back', { timeout: 30_000 }, async t => {
  const dir = tempDir(t)
  const pair = await ptyPair(t, dir)
  const device = closeAfter(t, await openDevice(pair.pathB))
  // the path the driver is configured with, like /dev/serial/by-id/usb-FTDI_…-if00-port0
  const byId = path.join(dir, 'usb-FTDI_FT232R_A50285BI-if00-port0')
  symlinkSync(pair.pathA, byId)
  const serial = closeAfter(t, openSerial({ path: byId, baudRate: 9600, framing: { type: 'line' }, reopen: fastReopen, watchIntervalMs: 50 }))
  const errors: OutpostError[] = []
  serial.on('error', err => { errors.push(err) })
  await nextEvent(serial, 'open')

  const closed = nextEvent(serial, 'close')
  rmSync(byId)
  const [event] = await closed
  assert.equal(event.reason, 'vanished')
  assert.equal(event.error?.code, 'SERIAL_DISCONNECTED')
  assert.match(event.error?.message ?? '', /vanished while open/)
  assert.equal(serial.isOpen, false)
  const attempts = serial.stats.openAttempts
  await until('reopen attempts', () => serial.stats.openAttempts >= attempts + 2)
  assert.deepEqual(errors.map(err => err.code), ['SERIAL_NOT_FOUND'])

  const reopened = nextEvent(serial, 'open')
  symlinkSync(pair.pathA, byId)
  await reopened
  const frame = nextEvent(serial, 'frame')
  await device.write('back\n')
  assert.deepEqual(await frame, ['back'])
  assert.equal(serial.stats.opens, 2)
})

test('a device path re-pointed to another device is noticed: close "replaced", reopened on the new one', { timeout: 30_000 }, async t => {
  const dir = tempDir(t)
  const first = await ptyPair(t, dir, { a: 'ttyUSB0', b: 'dev0' })
  const second = await ptyPair(t, dir, { a: 'ttyUSB1', b: 'dev1' })
  const device0 = closeAfter(t, await openDevice(first.pathB))
  const device1 = closeAfter(t, await openDevice(second.pathB))
  const byId = path.join(dir, 'usb-Prolific_PL2303-if00-port0')
  symlinkSync(first.pathA, byId)
  const serial = closeAfter(t, openSerial({ path: byId, baudRate: 9600, framing: { type: 'line' }, reopen: fastReopen, watchIntervalMs: 50 }))
  const frames: string[] = []
  const closes: CloseEvent[] = []
  serial.on('frame', line => { frames.push(line) })
  serial.on('close', event => { closes.push(event) })
  await nextEvent(serial, 'open')
  await device0.write('from 0\n')
  await until('a line from the first device', () => frames.includes('from 0'))

  // udev re-pointing the by-id link after a replug that came back as ttyUSB1 (atomically, as udev does)
  const reopened = nextEvent(serial, 'open')
  symlinkSync(second.pathA, `${byId}.tmp`)
  renameSync(`${byId}.tmp`, byId)
  await reopened
  assert.equal(closes[0]?.reason, 'replaced')
  assert.match(closes[0]?.error?.message ?? '', /another device/)
  await device1.write('from 1\n')
  await until('a line from the second device', () => frames.includes('from 1'))
  assert.equal(closes.length, 1)
})

test('socat killed (stale links) and the links removed: the loss is noticed and reopening is attempted until it is back', { timeout: 30_000 }, async t => {
  const dir = tempDir(t)
  const pair = await ptyPair(t, dir)
  const serial = closeAfter(t, openSerial({ path: pair.pathA, baudRate: 9600, framing: { type: 'line' }, reopen: fastReopen, watchIntervalMs: 50 }))
  const errors: OutpostError[] = []
  serial.on('error', err => { errors.push(err) })
  await nextEvent(serial, 'open')

  const closed = nextEvent(serial, 'close')
  await pair.stop('SIGKILL')
  rmSync(pair.pathA, { force: true })
  rmSync(pair.pathB, { force: true })
  const [event] = await closed
  assert.ok(['disconnected', 'vanished'].includes(event.reason), `reason ${event.reason}`)
  const attempts = serial.stats.openAttempts
  await until('reopen attempts', () => serial.stats.openAttempts >= attempts + 2)
  assert.deepEqual(errors.map(err => err.code), ['SERIAL_NOT_FOUND'])

  const reopened = nextEvent(serial, 'open')
  await pair.restart()
  await reopened
  const device = closeAfter(t, await openDevice(pair.pathB))
  const frame = nextEvent(serial, 'frame')
  await device.write('alive\n')
  assert.deepEqual(await frame, ['alive'])
})
