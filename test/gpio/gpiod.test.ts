// The cdev backend against stand-in gpiod tools in both output styles (v1 1.6.3, v2 2.1): the exact command
// lines it runs, the events it parses, and that no held line outlives its owner.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadBoard } from '../../core/boards/load.js'
import { OutpostError } from '../../core/errors.js'
import { openLine } from '../../drivers/lib/gpio/index.js'
import type { Edge } from '../../drivers/lib/gpio/index.js'
import { fakeGpiod } from './fake-gpiod.js'
import { gone, waitFor } from '../helpers/wait.js'

// a Pi 5 on a kernel where the RP1 header chip is gpiochip4: found by its label, not by a number
const CHIPS = 'gpiochip0 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip1 [gpio-brcmstb@107d508520] (4 lines)\ngpiochip4 [pinctrl-rp1] (54 lines)\n'
const pi5 = loadBoard('rpi5')
const TIMEOUT = { timeout: 20_000 }

for (const version of [1, 2] as const) {
  const set = (level: 0 | 1): string[] => version === 1
    ? ['gpioset', '--mode=signal', 'gpiochip4', `17=${level}`]
    : ['gpioset', '--banner', '-c', 'gpiochip4', `17=${level}`]

  test(`v${version}: an output is held by one gpioset per value, and returns to its safe state at close`, TIMEOUT, async (t) => {
    const fake = fakeGpiod(t, version, CHIPS)
    const line = await openLine(pi5, 'pin11', { direction: 'output', activeLow: true, initial: 0, gpiodBin: fake.bin })
    t.after(() => line.close())
    assert.equal(line.name, 'GPIO17')
    assert.equal(fake.level('gpiochip4', 17), '1', 'logical 0 on an active-low line is a physical 1')
    assert.equal(fake.holder('gpiochip4', 17)?.tool, 'gpioset')
    await line.write(1)
    await line.write(1)
    assert.equal(fake.level('gpiochip4', 17), '0')
    assert.equal(await line.read(), 1)
    await Promise.all([line.close(), line.close()])
    await line.close()
    assert.equal(fake.level('gpiochip4', 17), '1')
    assert.equal(fake.holder('gpiochip4', 17), undefined, 'the line is released')
    assert.deepEqual(fake.steps(), [['gpiodetect', '--version'], ['gpiodetect'], set(1), set(0), set(1)])
    if (version === 1) assert.ok(fake.calls().some(c => c.join(' ') === 'gpioinfo gpiochip4'), 'v1 has no banner: gpioinfo shows when gpioset holds the line')
    await assert.rejects(line.write(0), { code: 'GPIO_BACKEND', message: 'line GPIO17 is closed' })
  })

  test(`v${version}: an input streams kernel-timestamped edges from one gpiomon, with bias and active-low`, TIMEOUT, async (t) => {
    const fake = fakeGpiod(t, version, CHIPS)
    fake.setLevel('gpiochip4', 27, 1)
    const line = await openLine(pi5, 'GPIO27', { direction: 'input', activeLow: true, bias: 'pull-up', gpiodBin: fake.bin })
    t.after(() => line.close())
    assert.equal(await line.read(), 0, 'released button: physical 1 on an active-low line')
    const edges: Edge[] = []
    line.watch(e => edges.push(e))
    const event = (level: 0 | 1, sec: number, nsec: number): string => version === 1
      ? `27 ${level} ${sec} ${nsec}`
      : `27 ${level === 1 ? 'rising' : 'falling'} ${sec}.${String(nsec).padStart(9, '0')}`
    fake.event('gpiochip4', 27, 'not an event')
    fake.event('gpiochip4', 27, event(0, 1700, 5))
    fake.event('gpiochip4', 27, event(1, 1701, 123456789))
    await waitFor('two edges', () => edges.length >= 2)
    assert.deepEqual(edges, [
      { value: 1, edge: 'rising', timestampNs: 1_700_000_000_005n },
      { value: 0, edge: 'falling', timestampNs: 1_701_123_456_789n },
    ])
    assert.equal(await line.read(), 0, 'the level follows the events (gpioget cannot read a held line)')
    assert.equal(fake.holder('gpiochip4', 27)?.tool, 'gpiomon')
    await line.close()
    assert.equal(fake.holder('gpiochip4', 27), undefined)
    const expected = version === 1
      ? [['gpioget', '-B', 'pull-up', 'gpiochip4', '27'], ['gpiomon', '-b', '-F', '%o %e %s %n', '-B', 'pull-up', 'gpiochip4', '27']]
      : [['gpioget', '--numeric', '-c', 'gpiochip4', '-b', 'pull-up', '27'], ['gpiomon', '--banner', '-F', '%o %E %S', '-c', 'gpiochip4', '-b', 'pull-up', '27']]
    assert.deepEqual(fake.steps(), [['gpiodetect', '--version'], ['gpiodetect'], ...expected])
  })

  test(`v${version}: an input without edges is read with gpioget each time`, TIMEOUT, async (t) => {
    const fake = fakeGpiod(t, version, CHIPS)
    const line = await openLine(pi5, 'GPIO5', { direction: 'input', edge: 'none', bias: 'disable', gpiodBin: fake.bin })
    t.after(() => line.close())
    assert.equal(await line.read(), 0)
    fake.setLevel('gpiochip4', 5, 1)
    assert.equal(await line.read(), 1)
    assert.throws(() => line.watch(() => {}), { code: 'GPIO_DIRECTION', message: 'line GPIO5 was opened with edge "none": it has no edges to watch' })
    await assert.rejects(line.write(1), { code: 'GPIO_DIRECTION' })
    const get = version === 1 ? ['gpioget', '-B', 'disable', 'gpiochip4', '5'] : ['gpioget', '--numeric', '-c', 'gpiochip4', '-b', 'disabled', '5']
    assert.deepEqual(fake.steps().slice(2), [get, get])
  })

  test(`v${version}: a board with kernel line names finds the line through the tools`, TIMEOUT, async (t) => {
    const fake = fakeGpiod(t, version, 'gpiochip0 [some-soc-gpio] (64 lines)\n', 'RELAY_1 gpiochip0 5\n')
    const generic = loadBoard('generic')
    const line = await openLine(generic, 'RELAY_1', { direction: 'output', gpiodBin: fake.bin })
    t.after(() => line.close())
    assert.equal(fake.level('gpiochip0', 5), '0')
    const find = version === 1 ? ['gpiofind', 'RELAY_1'] : ['gpioinfo', 'RELAY_1']
    const hold = version === 1 ? ['gpioset', '--mode=signal', 'gpiochip0', '5=0'] : ['gpioset', '--banner', '-c', 'gpiochip0', '5=0']
    assert.deepEqual(fake.steps(), [['gpiodetect', '--version'], find, hold])
    await assert.rejects(openLine(generic, 'RELAY_9', { direction: 'output', gpiodBin: fake.bin }), {
      code: 'GPIO_LINE_UNKNOWN',
      message: 'no GPIO line named "RELAY_9" on this machine (the board looks lines up by kernel name: see gpioinfo)',
    })
  })

  test(`v${version}: a line another process holds is refused with the tool's own words`, TIMEOUT, async (t) => {
    const fake = fakeGpiod(t, version, CHIPS)
    writeFileSync(path.join(fake.state, 'held', 'gpiochip4-17'), 'someone output -\n')
    await assert.rejects(openLine(pi5, 'GPIO17', { direction: 'output', gpiodBin: fake.bin }), (err: OutpostError) => {
      assert.equal(err.code, 'GPIO_BACKEND')
      assert.equal(err.message, 'gpioset for GPIO17 (gpiochip4 17) could not hold the line: gpioset: unable to request lines: Device or resource busy')
      return true
    })
  })

  test(`v${version}: a gpiomon or gpioset that dies is reported, not ignored`, TIMEOUT, async (t) => {
    const fake = fakeGpiod(t, version, CHIPS)
    const failures: Error[] = []
    const input = await openLine(pi5, 'GPIO22', { direction: 'input', gpiodBin: fake.bin, onError: err => { failures.push(err) } })
    t.after(() => input.close())
    const output = await openLine(pi5, 'GPIO23', { direction: 'output', gpiodBin: fake.bin, onError: err => { failures.push(err) } })
    t.after(() => output.close())
    process.kill(fake.holder('gpiochip4', 22)?.pid ?? 0, 'SIGKILL')
    process.kill(fake.holder('gpiochip4', 23)?.pid ?? 0, 'SIGKILL')
    await waitFor('both failures', () => failures.length >= 2)
    assert.ok(failures.every(err => err instanceof OutpostError && err.code === 'GPIO_BACKEND'))
    assert.deepEqual(failures.map(err => err.message.replace(/:.*$/, '')).sort(), [
      'gpiomon for GPIO22 (gpiochip4 22) stopped (SIGKILL)',
      'gpioset for GPIO23 (gpiochip4 23) stopped (SIGKILL)',
    ])
    await output.close()
    assert.equal(fake.level('gpiochip4', 23), '0', 'closing drives the safe state again')
    assert.equal(fake.holder('gpiochip4', 23), undefined)
  })
}

test('the chip is found by label; when it is missing the error lists the chips and permission problems', TIMEOUT, async (t) => {
  const fake = fakeGpiod(t, 1, 'gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 Permission denied\n')
  await assert.rejects(openLine(pi5, 'GPIO17', { direction: 'output', gpiodBin: fake.bin }), {
    code: 'GPIO_CHIP_NOT_FOUND',
    message: 'no GPIO chip labelled "pinctrl-rp1" for line GPIO17 (this machine has: gpiochip0 [pinctrl-bcm2711]; no permission to open gpiochip1 (add the service user to the gpio group))',
  })
  assert.deepEqual(fake.steps(), [['gpiodetect', '--version'], ['gpiodetect']], 'nothing was requested')
})

test('missing gpiod tools say which package to install', TIMEOUT, async (t) => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'outpost-nogpiod-'))
  t.after(() => rmSync(empty, { recursive: true, force: true }))
  await assert.rejects(openLine(pi5, 'GPIO17', { direction: 'output', gpiodBin: empty }), {
    code: 'GPIO_BACKEND',
    message: `${path.join(empty, 'gpiodetect')} --version not found: install the gpiod tools (Debian/Raspberry Pi OS: apt install gpiod)`,
  })
})

test('a driver killed with SIGKILL does not leave its gpioset holding the line', TIMEOUT, async (t) => {
  const fake = fakeGpiod(t, 2, CHIPS)
  const lib = new URL('../../drivers/lib/gpio/index.js', import.meta.url).href
  const boards = new URL('../../core/boards/load.js', import.meta.url).href
  const code = `
    import { openLine } from ${JSON.stringify(lib)}
    import { loadBoard } from ${JSON.stringify(boards)}
    await openLine(loadBoard('rpi5'), 'GPIO17', { direction: 'output', initial: 1, gpiodBin: ${JSON.stringify(fake.bin)} })
    console.log('ready')
    setInterval(() => {}, 1000)
  `
  const driver = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { driver.kill('SIGKILL') })
  let out = ''
  driver.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  await waitFor('the driver to hold the line', () => out.includes('ready'))
  const holder = fake.holder('gpiochip4', 17)
  assert.equal(holder?.tool, 'gpioset')
  driver.kill('SIGKILL')
  await waitFor('the orphaned gpioset to end', () => gone(holder?.pid ?? 0))
  assert.equal(fake.holder('gpiochip4', 17), undefined)
})
