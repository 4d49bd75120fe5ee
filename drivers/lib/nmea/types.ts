interface SentenceBase {
  /** GP (GPS), GN (several constellations), GL (GLONASS), GA (Galileo), GB/BD (BeiDou), … */
  talker: string
}

export interface GgaSentence extends SentenceBase {
  type: 'GGA'
  /** UTC time of the fix, 'HH:MM:SS.sss' */
  time: string | null
  /** signed decimal degrees: north and east positive */
  latitude: number | null
  longitude: number | null
  /** 0 no fix, 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float, 6 estimated, 7 manual, 8 simulation */
  fixQuality: number
  fixQualityName: string
  satellites: number | null
  hdop: number | null
  /** antenna altitude above mean sea level, metres */
  altitude: number | null
  /** geoid height above the WGS-84 ellipsoid, metres */
  geoidSeparation: number | null
  /** seconds since the last differential correction */
  dgpsAge: number | null
  dgpsStation: string | null
}

export interface RmcSentence extends SentenceBase {
  type: 'RMC'
  time: string | null
  /** UTC date, 'YYYY-MM-DD' */
  date: string | null
  /** date and time together as milliseconds since the epoch, when both are present */
  timestamp: number | null
  /** status A (data valid) rather than V (warning) */
  valid: boolean
  latitude: number | null
  longitude: number | null
  speedKnots: number | null
  speedMs: number | null
  /** course over ground, degrees true */
  course: number | null
  /** degrees, east positive */
  magneticVariation: number | null
  /** NMEA 2.3+ mode: A autonomous, D differential, E estimated, M manual, S simulator, N not valid, … */
  mode: string | null
}

export type NmeaSentence = GgaSentence | RmcSentence

export type NmeaResult =
  | { ok: true, sentence: NmeaSentence }
  | {
    ok: false
    /** checksum: missing or wrong; malformed: not a sentence, or a field that cannot be read; unsupported: a sentence type not decoded here */
    reason: 'checksum' | 'malformed' | 'unsupported'
    message: string
    line: string
  }
