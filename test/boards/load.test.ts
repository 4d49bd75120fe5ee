// Loading, resolving and detecting boards: each kind of mistake in a board file and the message that names
// file, JSON path and expectation; detection from a fake device tree in a temp folder.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadBoard } from '../../core/boards/load.js'
import { resolveBoard } from '../../core/boards/resolve.js'
import { boardsDir } from '../../core/paths.js'
import { detectBoard } from '../../core/boards/detect.js'
import { findLine } from '../../core/boards/lines.js'
import { OutpostError } from '../../core/errors.js'

const sim = JSON.parse(readFileSync(path.join(boardsDir, 'sim.json'), 'utf8'))

function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-boards-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A boards dir holding one board file (the sim board, changed by `edit`), plus `generic`. */
function boardsWith (t: { after: (fn: () => void) => void }, edit: (board: any) => void, text?: string): string {
  const dir = tempDir(t)
  const board = structuredClone(sim)
  edit(board)
  writeFileSync(path.join(dir, 'sim.json'), text ?? JSON.stringify(board))
  writeFileSync(path.join(dir, 'generic.json'), readFileSync(path.join(boardsDir, 'generic.json')))
  return dir
}

function invalid (boardsDir: string): OutpostError {
  try {
    loadBoard('sim', { boardsDir })
  } catch (err) {
    assert.ok(err instanceof OutpostError)
    assert.equal(err.code, 'BOARD_INVALID')
    return err
  }
  assert.fail('the board was accepted')
}

test('an unknown board name lists the boards there are', () => {
  assert.throws(() => loadBoard('rpi9'), (err: OutpostError) => {
    assert.equal(err.code, 'BOARD_NOT_FOUND')
    assert.equal(err.message, `no board named "rpi9" in ${boardsDir} (boards: beaglebone-black, cm5, generic, rpi2b, rpi3aplus, rpi3b, rpi4b, rpi5, rpi500, rpizero2w, sim)`)
    return true
  })
  // a name is never a path
  assert.throws(() => loadBoard('../boards/sim'), { code: 'BOARD_NOT_FOUND' })
})

test('a missing chip label names file, JSON path and what was expected', (t) => {
  const dir = boardsWith(t, b => { delete b.gpio.chips[0].label })
  const file = path.join(dir, 'sim.json')
  assert.match(invalid(dir).message, new RegExp(`^invalid board ${file}:\\n  ${file}: gpio\\.chips\\[0\\]\\.label: expected string, found nothing$`))
})

test('duplicate names, offsets and pins, and pins naming no line, are each reported where they are', (t) => {
  const dir = boardsWith(t, b => {
    const lines = b.gpio.chips[0].lines
    lines[5].name = 'GPIO4'
    lines[6].offset = 7
    lines[8].pin = 11
    b.uarts.sim0.pins = ['GPIO14', 'GPIO99']
  })
  const message = invalid(dir).message
  assert.match(message, /: gpio\.chips\[0\]\.lines\[5\]: "GPIO4" already names gpio\.chips\[0\]\.lines\[4\]/)
  assert.match(message, /: gpio\.chips\[0\]\.lines\[7\]\.offset: offset 7 appears twice on chip main/)
  assert.match(message, /: gpio\.chips\[0\]\.lines\[17\]: "pin11" already names gpio\.chips\[0\]\.lines\[8\]/)
  assert.match(message, /: uarts\.sim0\.pins\[1\]: no line "GPIO99" on this board/)
})

test('path style, backend and name must agree with the board kind', (t) => {
  const relative = invalid(boardsWith(t, b => { b.simulated = false; b.gpio.backend = 'cdev' }))
  assert.match(relative.message, /: uarts\.sim0\.path: expected an absolute device path such as \/dev\/ttyAMA0/)
  const escaping = invalid(boardsWith(t, b => { b.onewire.w1.path = '../../etc' }))
  assert.match(escaping.message, /: onewire\.w1\.path: a simulated board's paths are relative to the simulation root/)
  const backend = invalid(boardsWith(t, b => { b.gpio.backend = 'cdev' }))
  assert.match(backend.message, /: gpio\.backend: a simulated board uses the "sim" backend/)
  const renamed = invalid(boardsWith(t, b => { b.name = 'other' }))
  assert.match(renamed.message, /: name: expected "sim" \(the file's name\), found the text "other"/)
  const typo = invalid(boardsWith(t, b => { b.gpio.backend = 'gpiod' }))
  assert.match(typo.message, /: gpio\.backend: expected one of "cdev", "sysfs", "sim", found the text "gpiod"/)
})

test('a board file that is not JSON says so', (t) => {
  const err = invalid(boardsWith(t, () => {}, '{ "name": "sim", }'))
  assert.match(err.message, /^invalid board .*sim\.json: not valid JSON: /)
})

test('resolveBoard makes a simulated board\'s paths absolute under the simulation root', () => {
  const resolved = resolveBoard(loadBoard('sim'), { simRoot: '/run/outpost/sim' })
  assert.equal(resolved.uarts.sim0?.path, '/run/outpost/sim/tty/sim0')
  assert.equal(resolved.uarts.sim1?.path, '/run/outpost/sim/tty/sim1')
  assert.equal(resolved.onewire.w1?.path, '/run/outpost/sim/w1/devices')
  assert.deepEqual(resolveBoard(resolved, { simRoot: '/run/outpost/sim' }), resolved, 'resolving twice changes nothing')
  const pi = loadBoard('rpi4b')
  assert.equal(resolveBoard(pi, {}), pi)
  assert.throws(() => resolveBoard(loadBoard('sim')), { code: 'BOARD_INVALID', message: 'board sim is simulated: its device paths need a simulation root' })
})

function deviceTree (t: { after: (fn: () => void) => void }, model: Buffer | undefined): string {
  const root = tempDir(t)
  if (model !== undefined) writeFileSync(path.join(root, 'model'), model)
  return root
}

test('detection reads the NUL-terminated model string and picks the matching board', (t) => {
  const cases: Array<[string, string]> = [
    ['Raspberry Pi 4 Model B Rev 1.4', 'rpi4b'],
    ['Raspberry Pi 3 Model B Plus Rev 1.3', 'rpi3b'],
    ['Raspberry Pi 3 Model B Rev 1.2', 'rpi3b'],
    ['Raspberry Pi 5 Model B Rev 1.0', 'rpi5'],
    ['Raspberry Pi Zero 2 W Rev 1.0', 'rpizero2w'],
    ['TI AM335x BeagleBone Black', 'beaglebone-black'],
  ]
  for (const [model, board] of cases) {
    const detected = detectBoard({ deviceTreeRoot: deviceTree(t, Buffer.from(`${model}\0`)) })
    assert.equal(detected.board.name, board, model)
    assert.equal(detected.model, model, 'the NUL is not part of the model')
    assert.equal(detected.fallback, false)
    assert.match(detected.detectedFrom, new RegExp(`model says "${model}" \\(matches "`))
  }
})

test('issue 10 G7: Pi 400, Pi 500, CM4, CM5, Zero W, 3 A+ and 2 B are detected from the kernel\'s model strings, with their header UART, w1 and pin numbers', (t) => {
  // [model as /proc/device-tree/model has it, board, the header UART's name and path]
  const cases: Array<[string, string, string, string]> = [
    ['Raspberry Pi 400 Rev 1.0', 'rpi4b', 'serial0', '/dev/serial0'],
    ['Raspberry Pi Compute Module 4 Rev 1.0', 'rpi4b', 'serial0', '/dev/serial0'],
    ['Raspberry Pi Zero W Rev 1.1', 'rpizero2w', 'serial0', '/dev/serial0'],
    ['Raspberry Pi 3 Model A Plus Rev 1.0', 'rpi3aplus', 'serial0', '/dev/serial0'],
    ['Raspberry Pi 2 Model B Rev 1.1', 'rpi2b', 'serial0', '/dev/serial0'],
    // BCM2712 boards: /dev/serial0 is not the header UART there, so they have none by that name
    ['Raspberry Pi 500 Rev 1.0', 'rpi500', 'uart0', '/dev/ttyAMA0'],
    ['Raspberry Pi Compute Module 5 Rev 1.0', 'cm5', 'uart0', '/dev/ttyAMA0'],
    ['Raspberry Pi Compute Module 5 Lite Rev 1.0', 'cm5', 'uart0', '/dev/ttyAMA0'],
  ]
  for (const [model, name, uart, uartPath] of cases) {
    const { board, fallback } = detectBoard({ deviceTreeRoot: deviceTree(t, Buffer.from(`${model}\0`)) })
    assert.equal(board.name, name, model)
    assert.equal(fallback, false, model)
    assert.deepEqual([board.uarts[uart]?.path, board.uarts[uart]?.pins], [uartPath, ['GPIO14', 'GPIO15']], model)
    if (board.name === 'rpi500' || board.name === 'cm5') assert.equal(board.uarts.serial0, undefined, model)
    assert.deepEqual([board.onewire.w1?.path, board.onewire.w1?.pins], ['/sys/bus/w1/devices', ['GPIO4']], model)
    assert.deepEqual([findLine(board, 'pin11').name, findLine(board, 'pin7').name], ['GPIO17', 'GPIO4'], model)
  }
  // near misses go to the board they are: a Compute Module 4S (CM3 form factor) is not a CM4, a Pi 5 not a Pi 500
  assert.equal(detectBoard({ deviceTreeRoot: deviceTree(t, Buffer.from('Raspberry Pi Compute Module 4S Rev 1.0\0')) }).board.name, 'generic')
  assert.equal(detectBoard({ deviceTreeRoot: deviceTree(t, Buffer.from('Raspberry Pi 5 Model B Rev 1.0\0')) }).board.name, 'rpi5')
})

test('detection falls back to generic, and says why', (t) => {
  const unknown = detectBoard({ deviceTreeRoot: deviceTree(t, Buffer.from('Radxa ROCK 5B\0')) })
  assert.equal(unknown.board.name, 'generic')
  assert.equal(unknown.fallback, true)
  assert.match(unknown.detectedFrom, /model says "Radxa ROCK 5B", which no board matches$/)
  const none = deviceTree(t, undefined)
  const missing = detectBoard({ deviceTreeRoot: none })
  assert.equal(missing.board.name, 'generic')
  assert.equal(missing.fallback, true)
  assert.equal(missing.detectedFrom, `${path.join(none, 'model')} is missing or empty`)
})

test('the longest matching prefix wins, from any boards directory', (t) => {
  const dir = boardsWith(t, b => { b.match = ['Raspberry Pi'] })
  const pi = JSON.parse(readFileSync(path.join(boardsDir, 'rpi4b.json'), 'utf8'))
  writeFileSync(path.join(dir, 'rpi4b.json'), JSON.stringify(pi))
  const root = deviceTree(t, Buffer.from('Raspberry Pi 4 Model B Rev 1.5\0'))
  assert.equal(detectBoard({ boardsDir: dir, deviceTreeRoot: root }).board.name, 'rpi4b')
  writeFileSync(path.join(root, 'model'), 'Raspberry Pi 3 Model B Rev 1.2\0')
  assert.equal(detectBoard({ boardsDir: dir, deviceTreeRoot: root }).board.name, 'sim')
})
