// The shipped board files: each validates, and its facts hold when checked directly from the data (not
// only through the schema), so a wrong edit to a board file fails here with the board and line named.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { listBoards, loadBoard } from '../../core/boards/load.js'
import { boardsDir } from '../../core/paths.js'
import { aliasesOf, findLine } from '../../core/boards/lines.js'
import type { Board } from '../../core/boards/schema.js'

const SHIPPED = ['beaglebone-black', 'cm5', 'generic', 'rpi2b', 'rpi3aplus', 'rpi3b', 'rpi4b', 'rpi5', 'rpi500', 'rpizero2w', 'sim']
const boards = (): Board[] => listBoards().map(name => loadBoard(name))

// BCM GPIO → physical pin on the 40-pin header (the same on every 40-pin Raspberry Pi)
const PI_HEADER: Record<number, number> = {
  2: 3, 3: 5, 4: 7, 5: 29, 6: 31, 7: 26, 8: 24, 9: 21, 10: 19, 11: 23, 12: 32, 13: 33, 14: 8, 15: 10,
  16: 36, 17: 11, 18: 12, 19: 35, 20: 38, 21: 40, 22: 15, 23: 16, 24: 18, 25: 22, 26: 37, 27: 13,
}

test('the boards directory is <repo>/boards and holds the shipped boards, each valid', () => {
  assert.ok(existsSync(path.join(boardsDir, 'sim.json')))
  assert.deepEqual(listBoards(), SHIPPED)
  for (const board of boards()) assert.ok(board.title.length > 0, board.name)
})

test('within a board no line name, alias, offset (per chip) or physical pin appears twice', () => {
  for (const board of boards()) {
    const aliases = new Set<string>()
    const pins = new Set<number>()
    for (const chip of board.gpio.chips) {
      assert.ok(chip.label.length > 0, `${board.name}: chip ${chip.id} has a label`)
      const offsets = new Set<number>()
      for (const line of chip.lines) {
        assert.ok(!offsets.has(line.offset), `${board.name}: offset ${line.offset} twice on ${chip.label}`)
        offsets.add(line.offset)
        if (line.pin !== undefined) {
          assert.ok(!pins.has(line.pin), `${board.name}: pin ${line.pin} twice`)
          pins.add(line.pin)
        }
        for (const alias of aliasesOf(line)) {
          assert.ok(!aliases.has(alias), `${board.name}: ${alias} twice`)
          aliases.add(alias)
        }
      }
    }
  }
})

test('every UART, I²C and 1-Wire pin names a line of its board', () => {
  let checked = 0
  for (const board of boards()) {
    for (const devices of [board.uarts, board.i2c, board.onewire]) {
      for (const [key, device] of Object.entries(devices)) {
        for (const pin of device.pins) {
          assert.doesNotThrow(() => findLine(board, pin), `${board.name} ${key}: ${pin}`)
          checked++
        }
      }
    }
  }
  assert.ok(checked > 20)
})

test('Raspberry Pi boards: header GPIOs on the right chip label, with the 40-pin header numbering', () => {
  const labels: Record<string, string> = { rpi2b: 'pinctrl-bcm2835', rpi3aplus: 'pinctrl-bcm2835', rpi3b: 'pinctrl-bcm2835', rpizero2w: 'pinctrl-bcm2835', rpi4b: 'pinctrl-bcm2711', rpi5: 'pinctrl-rp1', rpi500: 'pinctrl-rp1', cm5: 'pinctrl-rp1' }
  for (const [name, label] of Object.entries(labels)) {
    const board = loadBoard(name)
    assert.equal(board.gpio.backend, 'cdev')
    assert.deepEqual(board.gpio.chips.map(c => c.label), [label], name)
    const lines = board.gpio.chips[0]?.lines ?? []
    assert.deepEqual(lines.map(l => [l.offset, l.pin]), Object.entries(PI_HEADER).map(([bcm, pin]) => [Number(bcm), pin]), name)
    for (const line of lines) assert.equal(line.name, `GPIO${line.offset}`)
    assert.deepEqual(board.i2c.i2c1?.pins, ['GPIO2', 'GPIO3'])
    assert.deepEqual(board.onewire.w1?.pins, ['GPIO4'])
  }
  const sim = loadBoard('sim')
  assert.deepEqual(sim.gpio.chips[0]?.lines.map(l => l.name), Array.from({ length: 28 }, (_, i) => `GPIO${i}`))
  assert.equal(findLine(sim, 'pin27').name, 'GPIO0')
})

test('the serial trap: /dev/serial0 is the header UART on Pi 0–4, but the debug UART on the Pi 5', () => {
  for (const name of ['rpi3b', 'rpi4b', 'rpizero2w']) {
    const serial0 = loadBoard(name).uarts.serial0
    assert.equal(serial0?.path, '/dev/serial0', name)
    assert.deepEqual(serial0?.pins, ['GPIO14', 'GPIO15'], name)
  }
  const pi5 = loadBoard('rpi5')
  const onHeader = Object.entries(pi5.uarts).filter(([, u]) => u.pins.includes('GPIO14'))
  assert.deepEqual(onHeader.map(([key, u]) => [key, u.path]), [['uart0', '/dev/ttyAMA0']])
  assert.equal(pi5.uarts.debug?.path, '/dev/ttyAMA10')
  assert.deepEqual(pi5.uarts.debug?.pins, [])
  assert.ok(Object.values(pi5.uarts).every(u => u.path !== '/dev/serial0'), 'no Pi 5 entry may name /dev/serial0 as a header port')
})

test('BeagleBone Black: four 32-line banks found by label, lines addressable by header position', () => {
  const bbb = loadBoard('beaglebone-black')
  assert.deepEqual(bbb.gpio.chips.map(c => c.label), ['gpio-0-31', 'gpio-32-63', 'gpio-64-95', 'gpio-96-127'])
  assert.deepEqual(findLine(bbb, 'P9_12'), { chipLabel: 'gpio-32-63', offset: 28, name: 'GPIO1_28' })
  assert.deepEqual(findLine(bbb, 'GPIO1_28'), findLine(bbb, 'P9_12'))
  assert.deepEqual(findLine(bbb, 'P8_7'), { chipLabel: 'gpio-64-95', offset: 2, name: 'GPIO2_2' })
  for (const chip of bbb.gpio.chips) {
    for (const line of chip.lines) {
      assert.ok(line.offset < 32)
      assert.equal(line.name, `GPIO${chip.id.slice(4)}_${line.offset}`)
      assert.match(line.header ?? '', /^P[89]_\d+$/)
    }
  }
})

test('aliases: name, pin<N> and header position resolve to one line; sim and generic shapes', () => {
  const pi4 = loadBoard('rpi4b')
  assert.deepEqual(findLine(pi4, 'GPIO17'), { chipLabel: 'pinctrl-bcm2711', offset: 17, name: 'GPIO17' })
  assert.deepEqual(findLine(pi4, 'pin11'), findLine(pi4, 'GPIO17'))
  const sim = loadBoard('sim')
  assert.equal(sim.simulated, true)
  assert.equal(sim.ramMiB, 512)
  assert.deepEqual(Object.entries(sim.uarts).map(([k, u]) => [k, u.path]), [['sim0', 'tty/sim0'], ['sim1', 'tty/sim1']])
  assert.equal(sim.onewire.w1?.path, 'w1/devices')
  assert.deepEqual(sim.i2c, {})
  const generic = loadBoard('generic')
  assert.deepEqual(generic.gpio.chips, [])
  assert.equal(generic.gpio.kernelLineNames, true)
  assert.deepEqual(generic.match, [])
})

test('an unknown line names the board and offers the close names', () => {
  const pi4 = loadBoard('rpi4b')
  assert.throws(() => findLine(pi4, 'gpio17'), { code: 'GPIO_LINE_UNKNOWN', message: 'board rpi4b has no GPIO line "gpio17": did you mean GPIO17?' })
  assert.throws(() => findLine(pi4, 'pin1'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'GPIO_LINE_UNKNOWN')
    assert.match(err.message, /^board rpi4b has no GPIO line "pin1": did you mean (pin\d+, ){0,4}pin\d+\?$/)
    return true
  })
  assert.throws(() => findLine(pi4, 'LED'), { message: 'board rpi4b has no GPIO line "LED": lines are named like GPIO2 / pin3' })
  assert.throws(() => findLine(loadBoard('generic'), 'GPIO17'), { message: 'board generic has no GPIO line "GPIO17": it declares no lines' })
})
