// The manifest's `uplink` section becomes the built-in module `uplink`: supervised and budgeted like any
// module, with the section (paths resolved) as its config. Its name is reserved, so the broker can trust the
// client id `uplink.<n>` to be this process (docs/fleet.md, "Trust").
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { installRoot } from '../paths.js'
import type { Problem } from './errors.js'
import type { Manifest, ModuleSpec } from './schema.js'
import type { UplinkConfig } from './uplink-schema.js'

export const UPLINK_MODULE = 'uplink'

function version (): string {
  try {
    return (JSON.parse(readFileSync(path.join(installRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** The module entry for the manifest's `uplink` section, or problems with it (exposed modules that do not exist). */
export function uplinkModule (manifest: Manifest, dir: string): { spec?: ModuleSpec, problems: Problem[] } {
  const section = manifest.uplink
  if (section === undefined) return { problems: [] }
  const problems: Problem[] = []
  const names = new Set(manifest.modules.map(m => m.name))
  section.expose.forEach((e, i) => {
    if (e.module === 'core') problems.push({ path: `uplink.expose[${i}].module`, message: 'core\'s methods are reached by role (uplink.operators), not exposed' })
    else if (!names.has(e.module)) problems.push({ path: `uplink.expose[${i}].module`, message: `no module named "${e.module}" in this manifest` })
  })
  const { enabled, memoryMiB, restart, fleetId, ...rest } = section
  const resolve = (file: string | undefined): string | undefined => (file === undefined ? undefined : path.resolve(dir, file))
  const config: UplinkConfig = {
    ...rest,
    fleetId: fleetId ?? manifest.gateway,
    version: version(),
    queue: { ...rest.queue, dir: path.resolve(dir, rest.queue.dir) },
  }
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = resolve(rest[key])
    if (file !== undefined) config[key] = file
  }
  const spec: ModuleSpec = {
    name: UPLINK_MODULE,
    entry: 'modules/uplink',
    enabled,
    instances: 1,
    after: [],
    // what fleet operators may reach, and nothing else: core (by role, checked again by core from the stamp) and
    // the exposed modules
    calls: ['core', ...new Set(section.expose.map(e => e.module))],
    config: config as unknown as Record<string, unknown>,
  }
  if (memoryMiB !== undefined) spec.memoryMiB = memoryMiB
  if (restart !== undefined) spec.restart = restart
  return { spec, problems }
}
