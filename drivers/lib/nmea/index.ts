export { parseNmea, nmeaChecksum } from './parse.js'
export type { GgaSentence, NmeaResult, NmeaSentence, RmcSentence } from './types.js'
