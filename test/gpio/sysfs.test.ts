// The sysfs backend against a fake /sys/class/gpio in a temp folder, with a small fake kernel that answers
// export/unexport and "high"/"low" directions. Edges are polled (a fake tree cannot imitate poll(2)).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadBoard } from '../../core/boards/load.js'
import type { Board } from '../../core/boards/schema.js'
import { openLine } from '../../drivers/lib/gpio/index.js'
import type { Edge } from '../../drivers/lib/gpio/index.js'
import { waitFor } from '../helpers/wait.js'

const pi4 = loadBoard('rpi4b')
const board: Board = { ...pi4, gpio: { ...pi4.gpio, backend: 'sysfs' } }
const TIMEOUT = { timeout: 20_000 }

interface FakeSysfs {
  root: string
  log: string[]
  read (file: string): string
  write (file: string, value: string): void
}

function fakeSysfs (t: { after: (fn: () => void) => void }): FakeSysfs {
  const root = mkdtempSync(path.join(os.tmpdir(), 'outpost-sysfs-'))
  const log: string[] = []
  const chip = (name: string, label: string, base: number, ngpio: number): void => {
    mkdirSync(path.join(root, name))
    writeFileSync(path.join(root, name, 'label'), `${label}\n`)
    writeFileSync(path.join(root, name, 'base'), `${base}\n`)
    writeFileSync(path.join(root, name, 'ngpio'), `${ngpio}\n`)
  }
  // current kernels number sysfs GPIOs from 512
  chip('gpiochip512', 'pinctrl-bcm2711', 512, 58)
  chip('gpiochip570', 'raspberrypi-exp-gpio', 570, 8)
  writeFileSync(path.join(root, 'export'), '')
  writeFileSync(path.join(root, 'unexport'), '')
  const lineWatchers = new Map<string, ReturnType<typeof watch>>()
  const kernel = watch(root, (_event, name) => {
    if (name !== 'export' && name !== 'unexport') return
    const number = readFileSync(path.join(root, name), 'utf8').trim()
    if (number === '') return
    writeFileSync(path.join(root, name), '')
    log.push(`${name} ${number}`)
    const dir = path.join(root, `gpio${number}`)
    if (name === 'unexport') {
      lineWatchers.get(dir)?.close()
      rmSync(dir, { recursive: true, force: true })
      return
    }
    mkdirSync(dir)
    // left over from a previous user: the backend must set it
    writeFileSync(path.join(dir, 'active_low'), '1\n')
    writeFileSync(path.join(dir, 'direction'), 'in\n')
    writeFileSync(path.join(dir, 'value'), '0\n')
    lineWatchers.set(dir, watch(dir, (_e, file) => {
      if (file !== 'direction') return
      const direction = readFileSync(path.join(dir, 'direction'), 'utf8').trim()
      if (direction !== 'high' && direction !== 'low') return
      log.push(`gpio${number} direction ${direction}`)
      writeFileSync(path.join(dir, 'value'), direction === 'high' ? '1\n' : '0\n')
    }))
  })
  t.after(() => {
    kernel.close()
    for (const w of lineWatchers.values()) w.close()
    rmSync(root, { recursive: true, force: true })
  })
  return {
    root,
    log,
    read: file => readFileSync(path.join(root, file), 'utf8').trim(),
    write: (file, value) => writeFileSync(path.join(root, file), `${value}\n`),
  }
}

test('an output: exported by base + offset, glitch-free direction, safe state and unexport at close', TIMEOUT, async (t) => {
  const sysfs = fakeSysfs(t)
  const line = await openLine(board, 'pin11', { direction: 'output', activeLow: true, initial: 0, sysfsRoot: sysfs.root })
  t.after(() => line.close())
  assert.equal(sysfs.log[0], 'export 529')
  assert.equal(sysfs.read('gpio529/active_low'), '0', 'active-low is the layer\'s job; sysfs carries physical levels')
  await waitFor('the fake kernel to apply the direction', () => sysfs.log.includes('gpio529 direction high'))
  assert.equal(await line.read(), 0, 'logical 0: physical 1 on an active-low line')
  await line.write(1)
  assert.equal(sysfs.read('gpio529/value'), '0')
  await line.close()
  await line.close()
  await waitFor('unexport', () => sysfs.log.includes('unexport 529'))
  assert.equal(existsSync(path.join(sysfs.root, 'gpio529')), false)
})

test('an input: edges found by polling the value file, debounced, with timestamps', TIMEOUT, async (t) => {
  const sysfs = fakeSysfs(t)
  const line = await openLine(board, 'GPIO27', { direction: 'input', debounceMs: 10, pollMs: 5, sysfsRoot: sysfs.root })
  t.after(() => line.close())
  assert.equal(sysfs.read('gpio539/direction'), 'in')
  const edges: Edge[] = []
  line.watch(e => edges.push(e))
  sysfs.write('gpio539/value', '1')
  await waitFor('the rising edge', () => edges.length >= 1)
  sysfs.write('gpio539/value', '0')
  await waitFor('the falling edge', () => edges.length >= 2)
  assert.deepEqual(edges.map(e => [e.edge, e.value]), [['rising', 1], ['falling', 0]])
  assert.equal(await line.read(), 0)
  await line.close()
  await waitFor('unexport', () => sysfs.log.includes('unexport 539'))
})

test('a line left exported by a crashed driver is taken over', TIMEOUT, async (t) => {
  const sysfs = fakeSysfs(t)
  mkdirSync(path.join(sysfs.root, 'gpio517'))
  for (const [file, value] of [['value', '1'], ['direction', 'out'], ['active_low', '0']]) sysfs.write(`gpio517/${file}`, value ?? '')
  const line = await openLine(board, 'GPIO5', { direction: 'input', edge: 'none', sysfsRoot: sysfs.root })
  t.after(() => line.close())
  assert.deepEqual(sysfs.log, [], 'no export was needed')
  assert.equal(sysfs.read('gpio517/direction'), 'in')
  assert.equal(await line.read(), 1)
})

test('what sysfs cannot do, and a chip it does not have, are errors that say so', TIMEOUT, async (t) => {
  const sysfs = fakeSysfs(t)
  await assert.rejects(openLine(board, 'GPIO17', { direction: 'input', bias: 'pull-up', sysfsRoot: sysfs.root }), {
    code: 'GPIO_BACKEND',
    message: 'line GPIO17: the sysfs GPIO interface cannot set bias "pull-up"; use a pull resistor or the cdev backend',
  })
  const bbb = loadBoard('beaglebone-black')
  await assert.rejects(openLine({ ...bbb, gpio: { ...bbb.gpio, backend: 'sysfs' } }, 'P9_12', { direction: 'output', sysfsRoot: sysfs.root }), {
    code: 'GPIO_CHIP_NOT_FOUND',
    message: `no GPIO chip labelled "gpio-32-63" for line GPIO1_28 in ${sysfs.root} (found: gpiochip512 [pinctrl-bcm2711], gpiochip570 [raspberrypi-exp-gpio])`,
  })
  const missing = path.join(sysfs.root, 'absent')
  await assert.rejects(openLine(board, 'GPIO17', { direction: 'output', sysfsRoot: missing }), {
    code: 'GPIO_BACKEND',
    message: `cannot read ${missing}: the kernel has no sysfs GPIO interface (ENOENT)`,
  })
  assert.deepEqual(sysfs.log, [])
})
