// ds18b20: w1_slave parsing (CRC, power-on value) and reading a fake w1 sysfs tree.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseW1Slave, listSensors, readSensor } from '../../drivers/ds18b20/w1.js'

test('w1_slave: a good reading, a CRC failure, the 85 °C power-on value, a negative temperature', () => {
  assert.deepEqual(parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n'), { celsius: 23.125 })
  assert.deepEqual(parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=12 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n'), { error: 'CRC check failed' })
  assert.match((parseW1Slave('50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n') as { error: string }).error, /power-on reset/)
  assert.deepEqual(parseW1Slave('5e ff 4b 46 7f ff 02 10 d9 : crc=d9 YES\n5e ff 4b 46 7f ff 02 10 d9 t=-10125\n'), { celsius: -10.125 })
  assert.deepEqual(parseW1Slave(''), { error: 'CRC check failed' })
})

test('sensors are found on a w1 tree and a vanished one reads as an error, not a throw', async (t) => {
  const bus = mkdtempSync(path.join(os.tmpdir(), 'outpost-w1-'))
  t.after(() => rmSync(bus, { recursive: true, force: true }))
  for (const [id, milli] of [['28-0000075a1b2c', 21500], ['28-0000075a9f01', 19000]] as const) {
    mkdirSync(path.join(bus, id))
    writeFileSync(path.join(bus, id, 'w1_slave'), `aa : crc=aa YES\naa t=${milli}\n`)
  }
  mkdirSync(path.join(bus, 'w1_bus_master1'))
  assert.deepEqual(await listSensors(bus), ['28-0000075a1b2c', '28-0000075a9f01'])
  assert.deepEqual(await readSensor(bus, '28-0000075a1b2c'), { sensor: '28-0000075a1b2c', celsius: 21.5 })
  rmSync(path.join(bus, '28-0000075a9f01'), { recursive: true })
  assert.deepEqual(await readSensor(bus, '28-0000075a9f01'), { sensor: '28-0000075a9f01', error: 'cannot read: ENOENT' })
  assert.deepEqual(await listSensors(path.join(bus, 'absent')), [])
})
