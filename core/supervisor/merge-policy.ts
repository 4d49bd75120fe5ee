// The effective restart policy of a module: the manifest's `restart` sections layered over DEFAULT_POLICY.
// Apart from policy-schema.ts, which loads zod: the core merges policies but never validates them itself.
import { DEFAULT_POLICY } from './policy.js'
import type { RestartPolicy } from './policy.js'
import type { RestartPolicyInput } from './policy-schema.js'

/** Layers: built-in defaults, then the gateway's defaults, then the module's own. */
export function mergePolicy (...layers: Array<RestartPolicyInput | undefined>): RestartPolicy {
  let policy: RestartPolicy = DEFAULT_POLICY
  for (const layer of layers) {
    if (layer === undefined) continue
    policy = {
      restart: layer.restart ?? policy.restart,
      backoff: { ...policy.backoff, ...stripUndefined(layer.backoff) },
      stableAfterMs: layer.stableAfterMs ?? policy.stableAfterMs,
      intensity: { ...policy.intensity, ...stripUndefined(layer.intensity) },
      stopTimeoutMs: layer.stopTimeoutMs ?? policy.stopTimeoutMs,
      readyTimeoutMs: layer.readyTimeoutMs ?? policy.readyTimeoutMs,
      disconnectGraceMs: layer.disconnectGraceMs ?? policy.disconnectGraceMs,
    }
  }
  return policy
}

function stripUndefined<T extends object> (value: T | undefined): Partial<T> {
  if (value === undefined) return {}
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
