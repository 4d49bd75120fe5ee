// Reading DS18B20 sensors from the w1 sysfs tree: <bus>/28-*/w1_slave holds two lines, the first ending
// in "YES" when the CRC matched, the second ending in "t=<millidegrees>".
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

export type Reading = { sensor: string, celsius: number } | { sensor: string, error: string }

export function parseW1Slave (text: string): { celsius: number } | { error: string } {
  const [first, second] = text.split('\n')
  if (first === undefined || !first.trim().endsWith('YES')) return { error: 'CRC check failed' }
  const match = /t=(-?\d+)/.exec(second ?? '')
  if (match === null) return { error: 'no temperature in w1_slave' }
  const milli = Number(match[1])
  // 85 °C is the power-on reset value: the conversion did not run
  if (milli === 85000) return { error: 'power-on reset value (85 °C): conversion did not run' }
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
    return { sensor, error: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
}
