// A small NMEA generator for the tests (our own sentences, checksums computed here): a receiver at 1 Hz
// sending GGA then RMC per epoch, moving north-east, with chosen sentences left out (lost on the cable).
import { nmeaChecksum } from '../../drivers/lib/nmea/index.js'

const sentence = (body: string): string => `$${body}*${nmeaChecksum(body)}\r\n`
const two = (n: number): string => String(n).padStart(2, '0')

export interface GeneratedEpoch {
  /** 'HH:MM:SS.000', as the parser reports it */
  time: string
  gga: string
  rmc: string
}

/** `count` epochs from 12:00:00 on 2026-12-04, one second apart; epoch i has altitude 500 + i and speed i knots */
export function generateEpochs (count: number): GeneratedEpoch[] {
  return Array.from({ length: count }, (_, i) => {
    const hhmmss = `12${two(Math.floor(i / 60))}${two(i % 60)}.00`
    const lat = `4807.${String(100 + i).padStart(3, '0')}`
    const lon = `01131.${String(200 + i).padStart(3, '0')}`
    return {
      time: `12:${two(Math.floor(i / 60))}:${two(i % 60)}.000`,
      gga: sentence(`GPGGA,${hhmmss},${lat},N,${lon},E,1,08,0.9,${500 + i}.0,M,46.9,M,,`),
      rmc: sentence(`GPRMC,${hhmmss},A,${lat},N,${lon},E,${i}.0,45.0,041226,,,A`),
    }
  })
}

/** the stream of the epochs, leaving out the sentences named in `lost` (e.g. `['3:rmc', '6:gga']`) */
export function streamOf (epochs: GeneratedEpoch[], lost: string[] = []): string {
  return epochs.map((e, i) => (lost.includes(`${i}:gga`) ? '' : e.gga) + (lost.includes(`${i}:rmc`) ? '' : e.rmc)).join('')
}
