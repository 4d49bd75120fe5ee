// nmea-gps driver process on a real gateway: the recorded receiver logs in test/fixtures/nmea replayed
// through a socat PTY pair in uneven chunks, as a receiver on a serial port would deliver them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, waitFor, watchHooks } from '../helpers/gateway.js'
import { openDevice, ptyPair } from '../serial/sim.js'
import type { SimDevice } from '../serial/sim.js'
import { logBytes } from '../nmea/logs.js'
import { generateEpochs, streamOf } from '../nmea/generate.js'
import { EXPECT_MEMORY, combine, groupEpochs } from '../../drivers/nmea-gps/epoch.js'
import type { Epoch } from '../../drivers/nmea-gps/epoch.js'
import { parseNmea } from '../../drivers/lib/nmea/index.js'
import type { GgaSentence, NmeaSentence, RmcSentence } from '../../drivers/lib/nmea/index.js'

async function replay (receiver: SimDevice, name: string): Promise<void> {
  const bytes = logBytes(name)
  const sizes = [1, 7, 64, 13, 200, 3]
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? 1
    await receiver.write(bytes.subarray(offset, offset + size))
    offset += size
  }
}

const near = (actual: number | null | undefined, expected: number, what: string): void => {
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) < 1e-8, `${what}: ${actual} is not ${expected}`)
}

const sentence = (line: string): NmeaSentence => {
  const result = parseNmea(line)
  assert.ok(result.ok, line)
  return result.sentence
}

test('epochs: grouped by time, complete with the types the receiver sends, an incomplete one handed over at the next', () => {
  const epochs: Epoch[] = []
  const grouper = groupEpochs(epoch => { epochs.push(epoch) })
  // a receiver sending only RMC: the first epoch waits for the next time, later ones are complete at once
  grouper.push(sentence('$GPRMC,101459.000,A,3326.4512,S,07039.2318,W,0.00,,060525,,,A*70'))
  assert.equal(epochs.length, 0)
  grouper.push(sentence('$GPRMC,101500.000,A,3326.4513,S,07039.2320,W,0.12,204.17,060525,,,A*6A'))
  assert.deepEqual(epochs.map(e => e.time), ['10:14:59.000', '10:15:00.000'])
  grouper.push(sentence('$GPRMC,101501.000,A,3326.4515,S,07039.2321,W,0.31,198.40,060525,1.5,E,D*03'))
  assert.deepEqual(epochs.map(e => e.time), ['10:14:59.000', '10:15:00.000', '10:15:01.000'])
  // a GGA for a time already handed over (a late one) joins it without a second hand-over
  grouper.push(sentence('$GPGGA,101501.000,3326.4515,S,07039.2321,W,2,06,1.4,571.5,M,30.1,M,2.0,0412*76'))
  assert.equal(epochs.length, 3)
  grouper.flush()
  assert.equal(epochs.length, 3)

  // GGA quality decides over RMC status; a fix needs a position
  const noFix = combine({ time: null, gga: sentence('$GNGGA,083559.00,,,,,0,03,4.56,,,,,,*4E') as GgaSentence })
  assert.deepEqual(noFix, { fix: false, position: null })
  const rmcOnly = combine({ time: '10:15:00.000', rmc: sentence('$GPRMC,101500.000,A,3326.4513,S,07039.2320,W,0.12,204.17,060525,,,A*6A') as RmcSentence })
  assert.equal(rmcOnly.fix, true)
  assert.deepEqual(rmcOnly.position?.sources, ['RMC'])
  assert.deepEqual([rmcOnly.position?.altitude, rmcOnly.position?.satellites, rmcOnly.position?.fixQuality], [null, null, null])
  assert.equal(rmcOnly.position?.course, 204.17)
})

test('issue 10 G2: a lost RMC or GGA costs its own epoch only; the next epoch has both sentences again', () => {
  const generated = generateEpochs(10)
  const epochs: Epoch[] = []
  const grouper = groupEpochs(epoch => { epochs.push(epoch) })
  const lines = streamOf(generated, ['3:rmc', '6:gga']).split('\r\n').filter(line => line !== '')
  for (const line of lines) grouper.push(sentence(line))
  assert.deepEqual(epochs.map(e => e.time), generated.map(g => g.time))
  const sources = epochs.map(e => combine(e).position?.sources)
  assert.deepEqual(sources, [
    ['GGA', 'RMC'], ['GGA', 'RMC'], ['GGA', 'RMC'], ['GGA'], ['GGA', 'RMC'], ['GGA', 'RMC'], ['RMC'], ['GGA', 'RMC'], ['GGA', 'RMC'], ['GGA', 'RMC'],
  ])

  // a receiver that stops sending RMC for good: its epochs wait for the next one for EXPECT_MEMORY epochs
  // (handed over late, not lost), then are complete with GGA alone
  const stopped: Epoch[] = []
  const adapting = groupEpochs(epoch => { stopped.push(epoch) })
  const many = generateEpochs(2 + EXPECT_MEMORY + 2)
  adapting.push(sentence(many[0]?.gga ?? ''))
  adapting.push(sentence(many[0]?.rmc ?? ''))
  adapting.push(sentence(many[1]?.gga ?? ''))
  adapting.push(sentence(many[1]?.rmc ?? ''))
  for (let i = 2; i < many.length; i++) {
    adapting.push(sentence(many[i]?.gga ?? ''))
    const waiting = i < 2 + EXPECT_MEMORY
    assert.equal(stopped.length, waiting ? i : i + 1, `epoch ${i} ${waiting ? 'waits for the next' : 'is complete at once'}`)
  }
})

test('issue 10 G2: through a PTY, a generated stream with a dropped RMC and a dropped GGA: every other position has both', { timeout: 60_000 }, async t => {
  const pair = await ptyPair(t)
  const gw = await startTestGateway({ modules: [{ name: 'gps', entry: 'drivers/nmea-gps', enabled: false, config: { path: pair.pathA, baudRate: 9600 } }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const hooks = await watchHooks(op, 'gps')
  await gw.gateway.modules.start('gps')
  await waitFor('the connected hook', () => hooks.of('connected').length === 1)
  const receiver = await openDevice(pair.pathB)
  t.after(() => receiver.close())
  const generated = generateEpochs(10)
  const bytes = Buffer.from(streamOf(generated, ['3:rmc', '6:gga']), 'latin1')
  for (let offset = 0; offset < bytes.length; offset += 37) await receiver.write(bytes.subarray(offset, offset + 37))
  await waitFor('ten positions', () => hooks.of('position').length === 10)
  const positions = hooks.of('position')
  assert.deepEqual(positions.map(p => p.time), generated.map(g => g.time))
  assert.deepEqual(positions.map(p => p.sources.join('+')), ['GGA+RMC', 'GGA+RMC', 'GGA+RMC', 'GGA', 'GGA+RMC', 'GGA+RMC', 'RMC', 'GGA+RMC', 'GGA+RMC', 'GGA+RMC'])
  // the epochs right after a loss carry speed, date and altitude
  for (const i of [4, 7]) {
    assert.equal(positions[i].altitude, 500 + i)
    near(positions[i].speed, i * 1852 / 3600, `speed of epoch ${i}`)
    assert.equal(positions[i].date, '2026-12-04')
  }
})

test('the recorded logs through a PTY: positions and fix changes with the right values, bad checksums counted and dropped', { timeout: 60_000 }, async t => {
  const pair = await ptyPair(t)
  const gw = await startTestGateway({ modules: [{ name: 'gps', entry: 'drivers/nmea-gps', enabled: false, config: { path: pair.pathA, baudRate: 9600 } }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const hooks = await watchHooks(op, 'gps')
  await gw.gateway.modules.start('gps')
  await waitFor('the connected hook', () => hooks.of('connected').length === 1)
  assert.equal((await op.call('gps', 'position')).result, null, 'no position before the first fix')
  const receiver = await openDevice(pair.pathB)
  t.after(() => receiver.close())

  // u-blox M8N: a torn first line, a cold start without fix, then four epochs of a moving fix
  await replay(receiver, 'ublox-m8n-gn.nmea')
  await waitFor('four positions', () => hooks.of('position').length === 4)
  const [first, , , fourth] = hooks.of('position')
  near(first.lat, 48 + 8.04538 / 60, 'latitude')
  near(first.lon, 11 + 34.51237 / 60, 'longitude')
  assert.deepEqual([first.altitude, first.satellites, first.hdop, first.fixQuality, first.fixQualityName], [519.3, 8, 1.02, 1, 'GPS'])
  assert.deepEqual([first.time, first.date, first.timestamp, first.course], ['08:36:00.000', '2026-11-23', Date.UTC(2026, 10, 23, 8, 36, 0), null])
  near(first.speed, 0.052 * 1852 / 3600, 'speed')
  assert.deepEqual(first.sources, ['GGA', 'RMC'])
  assert.deepEqual([fourth.altitude, fourth.satellites, fourth.hdop, fourth.course, fourth.timestamp], [518.6, 10, 0.91, 71.02, Date.UTC(2026, 10, 23, 8, 36, 3)])
  near(fourth.speed, 12.204 * 1852 / 3600, 'speed')
  const positions = hooks.of('position')
  for (let i = 1; i < positions.length; i++) assert.ok(positions[i].lat > positions[i - 1].lat && positions[i].lon > positions[i - 1].lon, 'moving north-east')
  assert.deepEqual(hooks.of('fix'), [{ fix: true, reason: 'receiver', fixQuality: 1, fixQualityName: 'GPS', satellites: 8, time: '08:36:00.000' }])
  const last = (await op.call('gps', 'position')).result as any
  assert.deepEqual({ ...last, receivedAt: undefined }, { ...fourth, receivedAt: undefined })
  assert.equal(typeof last.receivedAt, 'number')
  let status = (await op.call('gps', 'status')).result as any
  assert.equal(status.open, true)
  assert.equal(status.fix, true)
  assert.deepEqual([status.stats.sentences, status.stats.checksumErrors, status.stats.malformed, status.stats.positions], [12, 0, 1, 4])

  // a GPS-only receiver on a noisy cable, starting without a fix: the fix is lost, then found again
  await replay(receiver, 'gp-sirf-noisy.nmea')
  // the log's last epoch (10:15:03) lost its GGA: it waits for the next epoch (or the end of the stream)
  await waitFor('four more positions', () => hooks.of('position').length === 8)
  assert.deepEqual(hooks.of('fix').map(f => [f.fix, f.time]), [[true, '08:36:00.000'], [false, '10:14:58.000'], [true, '10:14:59.000']])
  const noisy = hooks.of('position').slice(4)
  assert.deepEqual(noisy.map(p => p.time), ['10:14:59.000', '10:15:00.000', '10:15:01.000', '10:15:02.000'])
  near(noisy[0].lat, -(33 + 26.4512 / 60), 'south is negative')
  near(noisy[0].lon, -(70 + 39.2318 / 60), 'west is negative')
  // 10:15:00's GGA had a flipped latitude digit and failed its checksum: that position comes from RMC alone
  assert.deepEqual(noisy[1].sources, ['RMC'])
  near(noisy[1].lat, -(33 + 26.4513 / 60), 'the RMC latitude, not the damaged one')
  assert.equal(noisy[1].altitude, null)
  assert.deepEqual([noisy[2].fixQuality, noisy[2].fixQualityName, noisy[2].sources], [2, 'DGPS', ['GGA', 'RMC']])
  // 10:15:02's GGA was cut short (no checksum); its RMC, glued to the torn GGA, was recovered
  assert.deepEqual(noisy[3].sources, ['RMC'])
  status = (await op.call('gps', 'status')).result as any
  assert.deepEqual([status.stats.checksumErrors, status.stats.positions], [3, 8])

  // unplugged with a fix: the epoch in progress is handed over, then the fix is lost, and the last position
  // is still there
  await receiver.close()
  await pair.stop()
  await waitFor('the last epoch', () => hooks.of('position').length === 9)
  assert.deepEqual([hooks.of('position')[8].time, hooks.of('position')[8].sources], ['10:15:03.000', ['RMC']])
  await waitFor('the fix to be lost', () => hooks.of('fix').length === 4)
  assert.deepEqual(hooks.of('fix')[3], { fix: false, reason: 'disconnected', fixQuality: null, fixQualityName: null, satellites: null, time: null })
  await waitFor('the disconnected hook', () => hooks.of('disconnected').length === 1)
  assert.equal(((await op.call('gps', 'position')).result as any).time, '10:15:03.000')
  assert.equal(((await op.call('gps', 'status')).result as any).fix, false)
})
