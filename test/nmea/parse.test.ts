// NMEA sentences one by one: the classic published examples (their checksums computed by others), signs of
// the four hemispheres, empty fields before a fix, and every way a line can be wrong.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nmeaChecksum, parseNmea } from '../../drivers/lib/nmea/index.js'
import type { GgaSentence, NmeaResult, NmeaSentence, RmcSentence } from '../../drivers/lib/nmea/index.js'

function ok<T extends NmeaSentence> (result: NmeaResult): T {
  assert.equal(result.ok, true, result.ok ? '' : result.message)
  return (result as { sentence: NmeaSentence }).sentence as T
}

function rejected (result: NmeaResult, reason: string, message: RegExp): void {
  assert.equal(result.ok, false)
  if (result.ok) return
  assert.equal(result.reason, reason)
  assert.match(result.message, message)
}

test('the classic GGA example decodes to signed degrees, quality, satellites, HDOP, altitude', () => {
  const gga = ok<GgaSentence>(parseNmea('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47'))
  assert.equal(gga.type, 'GGA')
  assert.equal(gga.talker, 'GP')
  assert.equal(gga.time, '12:35:19.000')
  assert.ok(Math.abs((gga.latitude ?? 0) - (48 + 7.038 / 60)) < 1e-9)
  assert.ok(Math.abs((gga.longitude ?? 0) - (11 + 31 / 60)) < 1e-9)
  assert.equal(gga.fixQuality, 1)
  assert.equal(gga.fixQualityName, 'GPS')
  assert.equal(gga.satellites, 8)
  assert.equal(gga.hdop, 0.9)
  assert.equal(gga.altitude, 545.4)
  assert.equal(gga.geoidSeparation, 46.9)
  assert.equal(gga.dgpsAge, null)
  assert.equal(gga.dgpsStation, null)
})

test('the classic RMC example: date from a 1990s two-digit year, speed in knots and m/s, westerly variation negative', () => {
  const rmc = ok<RmcSentence>(parseNmea('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n'))
  assert.equal(rmc.type, 'RMC')
  assert.equal(rmc.valid, true)
  assert.equal(rmc.date, '1994-03-23')
  assert.equal(rmc.time, '12:35:19.000')
  assert.equal(rmc.timestamp, Date.UTC(1994, 2, 23, 12, 35, 19))
  assert.equal(rmc.speedKnots, 22.4)
  assert.ok(Math.abs((rmc.speedMs ?? 0) - 22.4 * 0.514444) < 1e-3)
  assert.equal(rmc.course, 84.4)
  assert.equal(rmc.magneticVariation, -3.1)
  assert.equal(rmc.mode, null, 'no mode field before NMEA 2.3')
})

test('southern and western hemispheres are negative; GN and GL talkers are accepted; fractional seconds kept', () => {
  const body = 'GNGGA,235959.25,3351.7260,S,15112.5710,W,4,14,0.6,12.0,M,22.1,M,1.0,0023'
  const gga = ok<GgaSentence>(parseNmea(`$${body}*${nmeaChecksum(body)}`))
  assert.equal(gga.talker, 'GN')
  assert.ok(Math.abs((gga.latitude ?? 0) + (33 + 51.726 / 60)) < 1e-9)
  assert.ok(Math.abs((gga.longitude ?? 0) + (151 + 12.571 / 60)) < 1e-9)
  assert.equal(gga.time, '23:59:59.250')
  assert.equal(gga.fixQualityName, 'RTK fixed')
  assert.equal(gga.dgpsAge, 1)
  assert.equal(gga.dgpsStation, '0023')

  const rmcBody = 'GLRMC,000000.00,A,0000.00000,N,00000.00000,E,0.0,,010100,,,A'
  const rmc = ok<RmcSentence>(parseNmea(`$${rmcBody}*${nmeaChecksum(rmcBody)}`))
  assert.equal(rmc.talker, 'GL')
  assert.equal(rmc.date, '2000-01-01')
  assert.equal(rmc.course, null)
  assert.equal(rmc.latitude, 0)
  assert.equal(rmc.mode, 'A')
})

test('a receiver without a fix: empty fields are null, status V is not valid', () => {
  const gga = ok<GgaSentence>(parseNmea('$GNGGA,,,,,,0,00,99.99,,,,,,*56'))
  assert.deepEqual([gga.time, gga.latitude, gga.longitude, gga.altitude, gga.fixQuality, gga.fixQualityName, gga.satellites, gga.hdop],
    [null, null, null, null, 0, 'no fix', 0, 99.99])
  const rmc = ok<RmcSentence>(parseNmea('$GNRMC,,V,,,,,,,,,,N*4D'))
  assert.deepEqual([rmc.valid, rmc.time, rmc.date, rmc.timestamp, rmc.latitude, rmc.speedKnots, rmc.speedMs, rmc.mode],
    [false, null, null, null, null, null, null, 'N'])
})

test('checksums: wrong, missing, not hex — each rejected with its reason', () => {
  rejected(parseNmea('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48'), 'checksum', /checksum 48 does not match 47/)
  rejected(parseNmea('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'), 'checksum', /no checksum/)
  rejected(parseNmea('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4'), 'checksum', /not two hex digits/)
  assert.equal(parseNmea('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,', { requireChecksum: false }).ok, true)
  assert.equal(parseNmea('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47').ok, true)
  assert.equal(parseNmea('$gpgga,x*' + nmeaChecksum('gpgga,x')).ok, false)
})

test('malformed lines and fields are rejected, never thrown', () => {
  const withSum = (body: string): string => `$${body}*${nmeaChecksum(body)}`
  rejected(parseNmea(''), 'malformed', /no "\$"/)
  rejected(parseNmea('M,47.4,M,,*5C'), 'malformed', /no "\$"/)
  rejected(parseNmea(withSum('GPGGA,123519,48x7.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')), 'malformed', /latitude "48x7.038"/)
  rejected(parseNmea(withSum('GPGGA,123519,4807.038,Q,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')), 'malformed', /hemisphere "Q"/)
  rejected(parseNmea(withSum('GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')), 'malformed', /out of range/)
  rejected(parseNmea(withSum('GPGGA,253519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')), 'malformed', /time "253519"/)
  rejected(parseNmea(withSum('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,5a5.4,M,46.9,M,,')), 'malformed', /altitude "5a5.4"/)
  rejected(parseNmea(withSum('GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W')), 'malformed', /status "X"/)
  rejected(parseNmea(withSum('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310294,003.1,W')), 'malformed', /date "310294" is not a calendar date/)
  rejected(parseNmea(withSum('G,1,2')), 'malformed', /"G" is not a talker/)
})

test('other sentences are reported as unsupported, proprietary ones too', () => {
  rejected(parseNmea('$GPGSV,1,1,00*79'), 'unsupported', /GSV sentences are not decoded/)
  rejected(parseNmea('$PUBX,00*' + nmeaChecksum('PUBX,00')), 'unsupported', /PUBX is a proprietary sentence/)
})

test('bytes before the "$" (binary UBX frames on the same port) are skipped', () => {
  const line = '\xb5b\x01\x07\x5c\x00' + '$GNGGA,,,,,,0,00,99.99,,,,,,*56'
  assert.equal(parseNmea(line).ok, true)
})
