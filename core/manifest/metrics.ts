// The manifest's `metrics` section becomes the built-in module `metrics`: supervised and budgeted like any
// module, with the section as its config. Its name is reserved: the broker lets the client id `metrics.<n>`
// call only core's read-only methods (broker/access.ts), so an HTTP endpoint open to the network can never
// stop or change a module, whatever happened to its process.
import type { Manifest, ModuleSpec } from './schema.js'
import type { MetricsConfig } from './metrics-schema.js'

export const METRICS_MODULE = 'metrics'

/** The module entry for the manifest's `metrics` section, if it has one. */
export function metricsModule (manifest: Manifest): ModuleSpec | undefined {
  const section = manifest.metrics
  if (section === undefined) return undefined
  const { enabled, memoryMiB, restart, ...rest } = section
  const config: MetricsConfig = { ...rest, gateway: manifest.gateway }
  const spec: ModuleSpec = {
    name: METRICS_MODULE,
    entry: 'modules/metrics',
    enabled,
    instances: 1,
    after: [],
    calls: ['core'],
    config: config as unknown as Record<string, unknown>,
  }
  if (memoryMiB !== undefined) spec.memoryMiB = memoryMiB
  if (restart !== undefined) spec.restart = restart
  return spec
}
