// ds18b20: w1_slave parsing (CRC, power-on value) and reading a fake w1 sysfs tree.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { parseW1Slave, listSensors, readSensor } from '../../drivers/ds18b20/w1.js'
import { startTestGateway, connectOperator, poll, waitFor, watchHooks } from '../helpers/gateway.js'

test('w1_slave: a good reading, a CRC failure, the 85 °C power-on value, a negative temperature', () => {
  assert.deepEqual(parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n'), { celsius: 23.125 })
  assert.deepEqual(parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=12 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n'), { error: 'CRC check failed', kind: 'crc' })
  assert.match((parseW1Slave('50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n') as { error: string }).error, /power-on reset/)
  assert.deepEqual(parseW1Slave('5e ff 4b 46 7f ff 02 10 d9 : crc=d9 YES\n5e ff 4b 46 7f ff 02 10 d9 t=-10125\n'), { celsius: -10.125 })
  assert.deepEqual(parseW1Slave(''), { error: 'CRC check failed', kind: 'crc' })
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
  assert.deepEqual(await readSensor(bus, '28-0000075a9f01'), { sensor: '28-0000075a9f01', error: 'cannot read: ENOENT', kind: 'unreadable' })
  assert.deepEqual(await listSensors(path.join(bus, 'absent')), [])
})

test('issue 10 G5: an all-zero scratchpad (crc=00 YES, data line stuck low) is a fault, not 0 °C', () => {
  assert.deepEqual(parseW1Slave('00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n'),
    { error: 'all-zero scratchpad (data line stuck low or sensor not powered)', kind: 'zero-scratchpad' })
  // a real 0 °C reading has a non-zero scratchpad (TH, TL, config, reserved bytes)
  assert.deepEqual(parseW1Slave('00 00 4b 46 7f ff 10 10 cb : crc=cb YES\n00 00 4b 46 7f ff 10 10 cb t=0\n'), { celsius: 0 })
})

const slave = (milli: number): string => `72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=${milli}\n`

test('issue 10 G5: one poll at a time on a slow bus; a removed sensor answers read with an error; a zero scratchpad is counted, not emitted', { timeout: 60_000 }, async t => {
  const gw = await startTestGateway({ modules: [{ name: 'temps', entry: 'drivers/ds18b20', enabled: false, config: { intervalMs: 250, names: { '28-000000000001': 'kept' } } }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const bus = path.join(gw.gateway.runtimeDir, 'sim', 'w1', 'devices')
  const sensor = (id: string, text: string): void => {
    mkdirSync(path.join(bus, id), { recursive: true })
    writeFileSync(path.join(bus, id, 'w1_slave'), text)
  }
  sensor('28-000000000001', slave(21500))
  sensor('28-000000000002', slave(19000))
  const hooks = await watchHooks(op, 'temps')
  await gw.gateway.modules.start('temps')
  await waitFor('readings of both', () => hooks.of('reading').some(r => r.sensor === 'kept') && hooks.of('reading').some(r => r.sensor === '28-000000000002'))
  const status = async (): Promise<any> => (await op.call('temps', 'status')).result

  // a read that blocks, as on a slow bus: the w1_slave file is a FIFO nobody writes yet
  const slow = path.join(bus, '28-000000000003')
  mkdirSync(slow)
  execFileSync('mkfifo', [path.join(slow, 'w1_slave')])
  await new Promise(resolve => setTimeout(resolve, 600))
  const blockedAt = await status()
  await new Promise(resolve => setTimeout(resolve, 1500))
  const blocked = await status()
  assert.equal(blocked.polling, true)
  assert.ok(blocked.skipped - blockedAt.skipped >= 2, `skipped ${blocked.skipped - blockedAt.skipped} ticks`)
  assert.ok(blocked.polls - blockedAt.polls <= 1, `${blocked.polls - blockedAt.polls} polls started while one was blocked`)
  // the sensor answers at last: the blocked poll ends and polling goes on
  const fifo = openSync(path.join(slow, 'w1_slave'), 'w')
  writeSync(fifo, slave(-1500))
  closeSync(fifo)
  await waitFor('the slow sensor read', () => hooks.of('reading').some(r => r.sensor === '28-000000000003' && r.celsius === -1.5))
  rmSync(slow, { recursive: true })

  // an all-zero scratchpad is counted and not emitted
  sensor('28-000000000002', '00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n')
  await waitFor('the zero-scratchpad fault', () => gw.logs.some(l => l.source === 'temps' && /all-zero scratchpad/.test(l.text)))
  const faulty = await status()
  assert.ok(faulty.faults['zero-scratchpad'] >= 1)
  assert.equal(hooks.of('reading').filter(r => r.sensor === '28-000000000002' && r.celsius === 0).length, 0, 'never emitted as 0 °C')
  const read = (await op.call('temps', 'read')).result as any
  assert.match(read['28-000000000002'].error, /all-zero scratchpad/)

  // a sensor taken off the bus: read says so instead of repeating its last value; every entry has an age
  rmSync(path.join(bus, '28-000000000001'), { recursive: true })
  const after = await poll(async () => {
    const result = (await op.call('temps', 'read')).result as any
    return result.kept?.error === 'not on the bus' ? result : undefined
  })
  assert.equal(after.kept.error, 'not on the bus')
  assert.equal(after.kept.celsius, undefined)
  assert.equal(typeof after.kept.ageMs, 'number')
})
