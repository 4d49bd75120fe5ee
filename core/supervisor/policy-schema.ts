// The `restart` section of the manifest (gateway-wide under defaults, per module to override), every field
// optional over DEFAULT_POLICY. Kept apart from policy.ts so the pure state machine does not load zod.
import { z } from 'zod'
import { DEFAULT_POLICY } from './policy.js'
import type { RestartPolicy } from './policy.js'

export { DEFAULT_POLICY }

export const restartPolicySchema = z.object({
  restart: z.enum(['always', 'on-failure', 'never']).optional(),
  backoff: z.object({
    initialMs: z.number().int().min(0).optional(),
    factor: z.number().min(1).optional(),
    maxMs: z.number().int().min(0).optional(),
    jitter: z.number().min(0).max(1).optional(),
  }).strict().optional(),
  stableAfterMs: z.number().int().min(0).optional(),
  intensity: z.object({
    maxRestarts: z.number().int().min(0).optional(),
    windowMs: z.number().int().min(1).optional(),
  }).strict().optional(),
  stopTimeoutMs: z.number().int().min(100).optional(),
  readyTimeoutMs: z.number().int().min(100).optional(),
}).strict()

export type RestartPolicyInput = z.infer<typeof restartPolicySchema>

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
    }
  }
  return policy
}

function stripUndefined<T extends object> (value: T | undefined): Partial<T> {
  if (value === undefined) return {}
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
