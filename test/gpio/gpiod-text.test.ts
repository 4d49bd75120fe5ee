// What the gpiod tools print, parsed: checked against the real v1 tools installed on this machine where they
// can answer without hardware (--version, --help), and against v2's documented output.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { monitorArgs, parseChips, parseEvent, parseFound, parseLineUse, parseVersion, setArgs } from '../../drivers/lib/gpio/gpiod-text.js'

const tool = (name: string, args: string[]): string => execFileSync(`/usr/bin/${name}`, args, { encoding: 'utf8', timeout: 5000 })

test('the version is read from the real v1 tools and from both v2 styles', () => {
  assert.equal(parseVersion(tool('gpiodetect', ['--version'])), 1)
  assert.equal(parseVersion('gpiodetect (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski'), 2)
  assert.equal(parseVersion('gpiodetect v2.3 (libgpiod v2.3.0)'), 2)
  assert.equal(parseVersion('gpiodetect (libgpiod) v3.0'), undefined)
})

test('the v1 options the backend passes exist in the installed tools', () => {
  const mon = tool('gpiomon', ['--help'])
  for (const option of ['-b, --line-buffered', '-F, --format', '-B, --bias', '%o:', '%e:', '%s:', '%n:']) assert.ok(mon.includes(option), `gpiomon --help has ${option}`)
  assert.deepEqual(monitorArgs(1, 'gpiochip0', 17, 'pull-up'), ['-b', '-F', '%o %e %s %n', '-B', 'pull-up', 'gpiochip0', '17'])
  const set = tool('gpioset', ['--help'])
  assert.ok(set.includes('signal:\tset values and wait for SIGINT or SIGTERM'))
  assert.deepEqual(setArgs(1, 'gpiochip0', 17, 'as-is', 1), ['--mode=signal', 'gpiochip0', '17=1'])
  assert.ok(tool('gpioget', ['--help']).includes('-B, --bias=[as-is|disable|pull-down|pull-up]'))
})

test('gpiodetect output: chips with labels, and chips this user may not open', () => {
  assert.deepEqual(parseChips('gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\ngpiochip2 Permission denied\n'), {
    chips: [{ name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 }, { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', lines: 8 }],
    denied: ['gpiochip2'],
  })
})

test('events: v1 edge codes and split timestamps, v2 edge names and decimal seconds; anything else ignored', () => {
  assert.deepEqual(parseEvent(1, '17 1 1700000000 5'), { offset: 17, level: 1, timestampNs: 1_700_000_000_000_000_005n })
  assert.deepEqual(parseEvent(1, '17 0 12 999999999'), { offset: 17, level: 0, timestampNs: 12_999_999_999n })
  assert.deepEqual(parseEvent(2, '4 falling 8123.000004567'), { offset: 4, level: 0, timestampNs: 8_123_000_004_567n })
  assert.equal(parseEvent(2, "Monitoring line '4'..."), undefined)
  assert.equal(parseEvent(1, '17 2 1 1'), undefined)
})

test('line lookups and line use', () => {
  assert.deepEqual(parseFound('gpiochip0 17\n'), { chip: 'gpiochip0', offset: 17 })
  assert.deepEqual(parseFound('gpiochip4 5\t"RELAY_1"        \tinput\n'), { chip: 'gpiochip4', offset: 5 })
  assert.equal(parseFound(''), undefined)
  const info = 'gpiochip0 - 58 lines:\n\tline  16:      "GPIO16"       unused   input  active-high \n\tline  17:      "GPIO17"   "gpioset"  output  active-high [used]\n\tline  18:     unnamed     "kernel"   input  active-high [used]\n'
  assert.deepEqual(parseLineUse(info, 17), { consumer: 'gpioset', direction: 'output' })
  assert.deepEqual(parseLineUse(info, 16), { consumer: undefined, direction: 'input' })
  assert.equal(parseLineUse(info, 40), undefined)
})
