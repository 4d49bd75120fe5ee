// Recorded-style receiver logs: a u-blox M8N (GN talker, cold start to a moving fix) and an older GPS-only
// receiver on a noisy cable. Every line gets an answer; exactly the damaged lines are rejected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNmea } from '../../drivers/lib/nmea/index.js'
import type { GgaSentence, NmeaResult, RmcSentence } from '../../drivers/lib/nmea/index.js'
import { readLog } from './logs.js'

const sentences = (results: NmeaResult[]) => results.flatMap(r => (r.ok ? [r.sentence] : []))

test('u-blox M8N log: torn first line, cold start without fix, then four epochs of a moving 3D fix', () => {
  const results = readLog('ublox-m8n-gn.nmea').map(line => parseNmea(line))
  const rejects = results.filter(r => !r.ok)
  assert.equal(rejects.filter(r => !r.ok && r.reason === 'checksum').length, 0, 'a clean log has no checksum errors')
  assert.deepEqual(rejects.filter(r => !r.ok && r.reason === 'malformed').map(r => r.line), ['M,47.4,M,,*5C'], 'only the torn first line')

  const ggas = sentences(results).filter((s): s is GgaSentence => s.type === 'GGA')
  const rmcs = sentences(results).filter((s): s is RmcSentence => s.type === 'RMC')
  assert.equal(ggas.length, 6)
  assert.equal(rmcs.length, 6)
  assert.ok([...ggas, ...rmcs].every(s => s.talker === 'GN'))

  // before the fix: no time at all, then time and date but status V and quality 0
  assert.deepEqual([rmcs[0]?.valid, rmcs[0]?.timestamp, ggas[0]?.fixQuality], [false, null, 0])
  assert.deepEqual([rmcs[1]?.valid, rmcs[1]?.date, rmcs[1]?.time, rmcs[1]?.latitude, ggas[1]?.satellites],
    [false, '2026-11-23', '08:35:59.000', null, 3])

  const fix = ggas[2]
  assert.equal(fix?.fixQualityName, 'GPS')
  assert.equal(fix?.satellites, 8)
  assert.equal(fix?.altitude, 519.3)
  assert.equal(fix?.geoidSeparation, 47.4)
  assert.ok(Math.abs((fix?.latitude ?? 0) - 48.134089666) < 1e-8)
  assert.ok(Math.abs((fix?.longitude ?? 0) - 11.575206166) < 1e-8)

  const last = rmcs[5]
  assert.equal(last?.valid, true)
  assert.equal(last?.mode, 'A')
  assert.equal(last?.timestamp, Date.UTC(2026, 10, 23, 8, 36, 3))
  assert.equal(last?.speedKnots, 12.204)
  assert.ok(Math.abs((last?.speedMs ?? 0) - 6.278) < 1e-3)
  assert.equal(last?.course, 71.02)
  // moving east-north-east: latitude and longitude grow epoch by epoch
  const fixes = rmcs.filter(r => r.valid)
  for (let i = 1; i < fixes.length; i++) {
    assert.ok((fixes[i]?.latitude ?? 0) > (fixes[i - 1]?.latitude ?? 0))
    assert.ok((fixes[i]?.longitude ?? 0) > (fixes[i - 1]?.longitude ?? 0))
  }
})

test('noisy GP log: flipped bits and a bad checksum rejected, a cut sentence rejected, a glued line recovered', () => {
  const lines = readLog('gp-sirf-noisy.nmea')
  const results = lines.map(line => parseNmea(line))
  const byReason = (reason: string) => results.flatMap((r, i) => (!r.ok && r.reason === reason ? [i] : []))
  // line 7: a latitude digit flipped on the wire; line 13: the checksum itself damaged; line 11: cut short
  assert.deepEqual(byReason('checksum'), [6, 10, 12])
  assert.match((results[6] as { message: string }).message, /checksum 5C does not match/)
  assert.match((results[10] as { message: string }).message, /no checksum/)
  assert.deepEqual(byReason('malformed'), [])
  assert.deepEqual(byReason('unsupported'), [1, 4, 14, 15])

  // the line where CR LF was lost: the torn GGA is dropped, the whole RMC after it is read
  const glued = results[11]
  assert.equal(glued?.ok, true)
  assert.equal(glued?.ok === true && glued.sentence.type === 'RMC' ? glued.sentence.time : null, '10:15:02.000')

  const ggas = sentences(results).filter((s): s is GgaSentence => s.type === 'GGA')
  assert.deepEqual(ggas.map(g => g.fixQuality), [0, 1, 2])
  assert.deepEqual([ggas[0]?.latitude, ggas[0]?.satellites, ggas[0]?.hdop, ggas[0]?.geoidSeparation], [null, 0, null, 0])
  const santiago = ggas[1]
  assert.ok(Math.abs((santiago?.latitude ?? 0) + 33.44085333) < 1e-8, 'south is negative')
  assert.ok(Math.abs((santiago?.longitude ?? 0) + 70.65386333) < 1e-8, 'west is negative')
  assert.equal(ggas[2]?.fixQualityName, 'DGPS')
  assert.equal(ggas[2]?.dgpsStation, '0412')

  const rmcs = sentences(results).filter((s): s is RmcSentence => s.type === 'RMC')
  assert.deepEqual(rmcs.map(r => r.valid), [false, true, true, true, true, true])
  assert.equal(rmcs[3]?.magneticVariation, 1.5)
  assert.equal(rmcs[3]?.mode, 'D')
  assert.equal(rmcs[1]?.date, '2025-05-06')
})
