import { readFileSync } from 'node:fs'

/** the raw bytes of a recorded log in test/fixtures/nmea */
export function logBytes (name: string): Buffer {
  return readFileSync(new URL(`../../../test/fixtures/nmea/${name}`, import.meta.url))
}

/** the lines of a recorded log, without their CR LF */
export function readLog (name: string): string[] {
  return logBytes(name).toString('latin1').split('\r\n').filter(line => line !== '')
}
