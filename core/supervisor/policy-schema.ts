// The `restart` section of the manifest (gateway-wide under defaults, per module to override), every field
// optional over DEFAULT_POLICY (merge-policy.ts). Only the manifest checker loads this file and zod with it.
import { z } from 'zod'

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
  disconnectGraceMs: z.number().int().min(0).optional(),
}).strict()

export type RestartPolicyInput = z.infer<typeof restartPolicySchema>
