// A receiver reports each fix (an epoch) in several sentences with the same UTC time: GGA has altitude,
// satellites and HDOP, RMC has date, speed and course. Sentences are grouped by epoch and one position is
// made from each group. A group is complete when it has every sentence type the receiver sent in one of
// the last EXPECT_MEMORY epochs (the first group waits for both), so a receiver sending only RMC is not
// waited on after its first epoch, and one sentence lost to a bad checksum costs its own epoch only: the
// next epoch still waits for both. An incomplete group is handed over when the next epoch starts.
import type { GgaSentence, NmeaSentence, RmcSentence } from '../lib/nmea/index.js'

export interface Epoch {
  time: string | null
  gga?: GgaSentence
  rmc?: RmcSentence
}

export interface Position {
  /** signed decimal degrees, north and east positive */
  lat: number
  lon: number
  /** metres above mean sea level (GGA) */
  altitude: number | null
  /** metres per second over ground (RMC) */
  speed: number | null
  /** degrees true over ground (RMC) */
  course: number | null
  /** UTC time of the fix, 'HH:MM:SS.sss' */
  time: string | null
  /** UTC date, 'YYYY-MM-DD' (RMC) */
  date: string | null
  /** date and time as ms since the epoch, when the RMC sentence gave both */
  timestamp: number | null
  /** GGA fix quality (1 GPS, 2 DGPS, 4 RTK fixed, …) and its name; null without a GGA sentence */
  fixQuality: number | null
  fixQualityName: string | null
  satellites: number | null
  hdop: number | null
  /** which sentences this position was made from */
  sources: Array<'GGA' | 'RMC'>
}

/** whether the epoch is a fix (GGA's quality decides when there is one, RMC's status otherwise), and the position if so */
export function combine (epoch: Epoch): { fix: boolean, position: Position | null } {
  const { gga, rmc } = epoch
  const lat = gga?.latitude ?? rmc?.latitude ?? null
  const lon = gga?.longitude ?? rmc?.longitude ?? null
  const fix = (gga !== undefined ? gga.fixQuality > 0 : rmc?.valid === true) && lat !== null && lon !== null
  if (!fix || lat === null || lon === null) return { fix: false, position: null }
  return {
    fix,
    position: {
      lat,
      lon,
      altitude: gga?.altitude ?? null,
      speed: rmc?.speedMs ?? null,
      course: rmc?.course ?? null,
      time: epoch.time,
      date: rmc?.date ?? null,
      timestamp: rmc?.timestamp ?? null,
      fixQuality: gga?.fixQuality ?? null,
      fixQualityName: gga?.fixQualityName ?? null,
      satellites: gga?.satellites ?? null,
      hdop: gga?.hdop ?? null,
      sources: [...(gga === undefined ? [] : ['GGA' as const]), ...(rmc === undefined ? [] : ['RMC' as const])],
    },
  }
}

export interface EpochGrouper {
  push (sentence: NmeaSentence): void
  /** hands over the epoch in progress (if not handed over yet) and starts afresh */
  flush (): void
}

/** how many epochs a sentence type stays expected after it last came (a receiver that stopped sending it) */
export const EXPECT_MEMORY = 4

export function groupEpochs (onEpoch: (epoch: Epoch) => void): EpochGrouper {
  let current: Epoch | undefined
  let handedOver = false
  /** epochs started since the last flush; the first one waits for both types */
  let count = 0
  /** the epoch number in which each type last came */
  let lastSeen = { GGA: -Infinity, RMC: -Infinity }

  const handOver = (): void => {
    if (current === undefined || handedOver) return
    handedOver = true
    onEpoch(current)
  }
  const expected = (type: 'GGA' | 'RMC'): boolean => count === 1 || count - lastSeen[type] <= EXPECT_MEMORY

  return {
    push (sentence) {
      const key = sentence.type === 'GGA' ? 'gga' : 'rmc'
      // a new time, or a second sentence of a type (receivers without time yet repeat the empty one)
      if (current === undefined || current.time !== sentence.time || current[key] !== undefined) {
        handOver()
        current = { time: sentence.time }
        handedOver = false
        count++
      }
      if (sentence.type === 'GGA') current.gga = sentence
      else current.rmc = sentence
      lastSeen[sentence.type] = count
      if ((current.gga !== undefined || !expected('GGA')) && (current.rmc !== undefined || !expected('RMC'))) handOver()
    },
    flush () {
      handOver()
      current = undefined
      count = 0
      lastSeen = { GGA: -Infinity, RMC: -Infinity }
    },
  }
}
