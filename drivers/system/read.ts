// Reading the gateway's health from the kernel's files. Every reader returns null for what this machine
// does not have (no thermal zone on a VM) rather than failing the whole sample.
import { readFile, readdir, statfs } from 'node:fs/promises'
import path from 'node:path'

export interface Health {
  cpuCelsius: number | null
  load: [number, number, number] | null
  memory: { totalBytes: number, availableBytes: number } | null
  disks: Array<{ mount: string, totalBytes: number, freeBytes: number }>
  uptimeSeconds: number | null
}

async function text (file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    return null
  }
}

/** The hottest CPU-ish thermal zone, in °C (the kernel reports millidegrees). */
export async function cpuCelsius (sysRoot: string): Promise<number | null> {
  const base = path.join(sysRoot, 'class', 'thermal')
  let zones: string[]
  try {
    zones = (await readdir(base)).filter(z => z.startsWith('thermal_zone'))
  } catch {
    return null
  }
  let hottest: number | null = null
  for (const zone of zones) {
    const milli = Number((await text(path.join(base, zone, 'temp')))?.trim())
    if (Number.isFinite(milli) && (hottest === null || milli / 1000 > hottest)) hottest = milli / 1000
  }
  return hottest
}

export function parseLoad (loadavg: string | null): [number, number, number] | null {
  const parts = loadavg?.trim().split(/\s+/).slice(0, 3).map(Number)
  return parts?.length === 3 && parts.every(Number.isFinite) ? [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0] : null
}

export function parseMeminfo (meminfo: string | null): Health['memory'] {
  if (meminfo === null) return null
  const kib = (key: string): number | undefined => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(meminfo)
    return match === null ? undefined : Number(match[1]) * 1024
  }
  const total = kib('MemTotal')
  const available = kib('MemAvailable')
  return total === undefined || available === undefined ? null : { totalBytes: total, availableBytes: available }
}

export async function readHealth (options: { procRoot: string, sysRoot: string, disks: string[] }): Promise<Health> {
  const disks: Health['disks'] = []
  for (const mount of options.disks) {
    try {
      const s = await statfs(mount)
      disks.push({ mount, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize })
    } catch {
      // a configured mount that is absent is reported by its absence; the driver logs it once
    }
  }
  const uptime = Number((await text(path.join(options.procRoot, 'uptime')))?.split(' ')[0])
  return {
    cpuCelsius: await cpuCelsius(options.sysRoot),
    load: parseLoad(await text(path.join(options.procRoot, 'loadavg'))),
    memory: parseMeminfo(await text(path.join(options.procRoot, 'meminfo'))),
    disks,
    uptimeSeconds: Number.isFinite(uptime) ? uptime : null,
  }
}
