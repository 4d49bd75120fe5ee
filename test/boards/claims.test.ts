// Claims: one module per pin, port or bus, with aliases and a device's own pins counted as the same resource.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { auditClaims, checkClaims, findClaimConflicts } from '../../core/boards/claims.js'
import type { Claim } from '../../core/boards/claims.js'
import { loadBoard } from '../../core/boards/load.js'
import { OutpostError } from '../../core/errors.js'

const pi4 = loadBoard('rpi4b')

test('different names for one line are one resource', () => {
  const conflicts = findClaimConflicts([
    { module: 'relay', kind: 'gpio', resource: 'GPIO17' },
    { module: 'button', kind: 'gpio', resource: 'pin11' },
    { module: 'led', kind: 'gpio', resource: 'GPIO27' },
  ], pi4)
  assert.deepEqual(conflicts.map(c => [c.resource, c.modules]), [['gpio pinctrl-bcm2711:17 (GPIO17)', ['relay', 'button']]])
  const bbb = loadBoard('beaglebone-black')
  const header = findClaimConflicts([
    { module: 'a', kind: 'gpio', resource: 'P9_12' },
    { module: 'b', kind: 'gpio', resource: 'GPIO1_28' },
  ], bbb)
  assert.deepEqual(header.map(c => [c.resource, c.modules]), [['gpio gpio-32-63:28 (GPIO1_28)', ['a', 'b']]])
})

test('a UART, I²C or 1-Wire bus occupies its pins; one module may claim a bus and its own pins', () => {
  const claims: Claim[] = [
    { module: 'modbus', kind: 'uart', resource: 'serial0' },
    { module: 'modbus', kind: 'gpio', resource: 'GPIO14' },
    { module: 'blinker', kind: 'gpio', resource: 'pin10' },
    { module: 'sensors', kind: 'i2c', resource: 'i2c1' },
    { module: 'probe', kind: 'gpio', resource: 'GPIO3' },
    { module: 'temps', kind: 'onewire', resource: 'w1' },
    { module: 'modbus2', kind: 'uart', resource: 'serial0' },
  ]
  const conflicts = findClaimConflicts(claims, pi4)
  assert.deepEqual(conflicts.map(c => [c.resource, ...c.modules]), [
    ['gpio pinctrl-bcm2711:15 (GPIO15)', 'modbus', 'blinker'],
    ['gpio pinctrl-bcm2711:3 (GPIO3)', 'sensors', 'probe'],
    ['uart serial0', 'modbus', 'modbus2'],
    ['gpio pinctrl-bcm2711:14 (GPIO14)', 'modbus', 'modbus2'],
    ['gpio pinctrl-bcm2711:15 (GPIO15)', 'modbus', 'modbus2'],
  ])
  assert.deepEqual(conflicts[0]?.claims, [claims[0], claims[2]], 'the conflict keeps both claims as written')
})

test('checkClaims names the resource, both modules and how each claimed it', () => {
  assert.doesNotThrow(() => checkClaims([{ module: 'a', kind: 'gpio', resource: 'GPIO5' }, { module: 'b', kind: 'gpio', resource: 'GPIO6' }], pi4))
  assert.throws(() => checkClaims([
    { module: 'modbus', kind: 'uart', resource: 'serial0' },
    { module: 'blinker', kind: 'gpio', resource: 'pin8' },
  ], pi4), (err: OutpostError) => {
    assert.equal(err.code, 'RESOURCE_CONFLICT')
    assert.equal(err.message, 'on board rpi4b:\n  gpio pinctrl-bcm2711:14 (GPIO14) is claimed by both modbus and blinker (modbus: uart serial0; blinker: gpio pin8)')
    return true
  })
})

test('a claim naming an unknown resource is RESOURCE_UNKNOWN, listing what the board has', () => {
  const pi5 = loadBoard('rpi5')
  assert.throws(() => findClaimConflicts([
    { module: 'modbus', kind: 'uart', resource: 'serial0' },
    { module: 'relay', kind: 'gpio', resource: 'GPIO71' },
    { module: 'ok', kind: 'gpio', resource: 'GPIO17' },
  ], pi5), (err: OutpostError) => {
    assert.equal(err.code, 'RESOURCE_UNKNOWN')
    const [first, second, third] = err.message.split('\n')
    assert.equal(first, 'claims the board cannot satisfy:')
    assert.match(second ?? '', /^ {2}module modbus: board rpi5 has no uart "serial0" \(it has: uart0, debug\): uart0 is \/dev\/ttyAMA0 \(the header UART .*\); debug is \/dev\/ttyAMA10 \(/)
    assert.match(third ?? '', /^ {2}module relay: board rpi5 has no GPIO line "GPIO71": did you mean GPIO7, /)
    return true
  })
  const { unknown, conflicts } = auditClaims([
    { module: 'a', kind: 'i2c', resource: 'i2c0' },
    { module: 'b', kind: 'gpio', resource: 'GPIO4' },
    { module: 'c', kind: 'onewire', resource: 'w1' },
  ], pi4)
  assert.deepEqual(unknown.map(u => u.message), ['board rpi4b has no i2c "i2c0" (it has: i2c1): i2c1 is /dev/i2c-1 (header I²C (SDA GPIO2 pin 3, SCL GPIO3 pin 5); enable with dtparam=i2c_arm=on)'])
  assert.deepEqual(conflicts.map(c => c.modules), [['b', 'c']], 'the unknown claim does not hide the conflict')
})

test('on a board with kernel line names, any line name is a resource of its own', () => {
  const generic = loadBoard('generic')
  const conflicts = findClaimConflicts([
    { module: 'a', kind: 'gpio', resource: 'RELAY_1' },
    { module: 'b', kind: 'gpio', resource: 'RELAY_2' },
    { module: 'c', kind: 'gpio', resource: 'RELAY_1' },
  ], generic)
  assert.deepEqual(conflicts.map(c => [c.resource, ...c.modules]), [['gpio RELAY_1', 'a', 'c']])
  assert.throws(() => findClaimConflicts([{ module: 'a', kind: 'uart', resource: 'serial0' }], generic), {
    code: 'RESOURCE_UNKNOWN',
    message: 'claims the board cannot satisfy:\n  module a: board generic has no uart "serial0" (it has: none)',
  })
})
