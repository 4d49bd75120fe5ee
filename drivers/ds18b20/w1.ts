// Reading DS18B20 sensors from the w1 sysfs tree: <bus>/28-*/w1_slave holds two lines, the first the nine
// scratchpad bytes ending in "YES" when the CRC matched, the second ending in "t=<millidegrees>".
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

/** why a reading was not taken: the kinds are counted in the driver's status */
export type FaultKind = 'crc' | 'power-on' | 'zero-scratchpad' | 'no-temperature' | 'unreadable'

export type Reading = { sensor: string, celsius: number } | { sensor: string, error: string, kind: FaultKind }

export function parseW1Slave (text: string): { celsius: number } | { error: string, kind: FaultKind } {
  const [first, second] = text.split('\n')
  if (first === undefined || !first.trim().endsWith('YES')) return { error: 'CRC check failed', kind: 'crc' }
  // nine zero bytes pass the CRC (the CRC of zeros is zero): the data line is stuck low, there is no reading
  const bytes = first.split(':')[0]?.trim().split(/\s+/) ?? []
  if (bytes.length === 9 && bytes.every(b => /^0+$/.test(b))) return { error: 'all-zero scratchpad (data line stuck low or sensor not powered)', kind: 'zero-scratchpad' }
  const match = /t=(-?\d+)/.exec(second ?? '')
  if (match === null) return { error: 'no temperature in w1_slave', kind: 'no-temperature' }
  const milli = Number(match[1])
  // 85 °C is the power-on reset value: the conversion did not run
  if (milli === 85000) return { error: 'power-on reset value (85 °C): conversion did not run', kind: 'power-on' }
  return { celsius: milli / 1000 }
}

export async function listSensors (busPath: string): Promise<string[]> {
  try {
    return (await readdir(busPath)).filter(name => name.startsWith('28-')).sort()
  } catch {
    return []
  }
}

export async function readSensor (busPath: string, sensor: string): Promise<Reading> {
  try {
    const parsed = parseW1Slave(await readFile(path.join(busPath, sensor, 'w1_slave'), 'utf8'))
    return { sensor, ...parsed }
  } catch (err) {
    return { sensor, error: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, kind: 'unreadable' }
  }
}
