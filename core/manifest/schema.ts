// The gateway manifest's schema: the one source of both validation and the TypeScript types
// (docs/manifest.md is the reference). Unknown keys are errors, so a typo never passes silently.
import { z } from 'zod'
import { restartPolicySchema } from '../supervisor/policy-schema.js'

const moduleName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a module name: lower-case letters, digits and "-", starting with a letter, at most 32 characters')

const listener = z.discriminatedUnion('type', [
  z.object({ type: z.literal('tcp'), host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535), anonymous: z.boolean().default(false) }).strict(),
  z.object({
    type: z.literal('tls'),
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535),
    cert: z.string(),
    key: z.string(),
    ca: z.string().optional(),
    requireClientCert: z.boolean().default(false),
  }).strict(),
  z.object({ type: z.literal('unix'), path: z.string(), anonymous: z.boolean().default(false) }).strict(),
])

export const moduleSchema = z.object({
  name: moduleName,
  /** `drivers/<name>` or `modules/<name>` shipped with Outpost, or a path to a .js file (relative to the manifest) */
  entry: z.string().min(1).optional(),
  /** a program in any language, as argv (relative paths resolve against the manifest's folder) */
  command: z.array(z.string().min(1)).min(1).optional(),
  enabled: z.boolean().default(true),
  instances: z.number().int().min(1).max(16).default(1),
  memoryMiB: z.number().int().min(24).max(65536).optional(),
  after: z.array(moduleName).default([]),
  /** modules this one may call; "*" (the default) is every module except `core` */
  calls: z.union([z.literal('*'), z.array(z.string())]).default('*'),
  restart: restartPolicySchema.optional(),
  config: z.record(z.string(), z.unknown()).default({}),
}).strict()

export const manifestSchema = z.object({
  gateway: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a gateway name: letters, digits, ".", "_" or "-"'),
  board: z.string().default('auto'),
  /** where the broker's module socket and runtime files live; default: <tmpdir>/outpost-<gateway> */
  runtimeDir: z.string().optional(),
  broker: z.object({
    listeners: z.array(listener).default([{ type: 'tcp', host: '127.0.0.1', port: 1883, anonymous: false }]),
    drainTimeoutMs: z.number().int().min(100).default(5000),
  }).strict().default({ listeners: [{ type: 'tcp', host: '127.0.0.1', port: 1883, anonymous: false }], drainTimeoutMs: 5000 }),
  defaults: z.object({
    memoryMiB: z.number().int().min(24).default(64),
    keepaliveSeconds: z.number().int().min(1).max(60).default(5),
    restart: restartPolicySchema.optional(),
    memory: z.object({
      /** how often each module's private memory is sampled */
      sampleMs: z.number().int().min(10).max(500).default(250),
      /** how long a module may stay over budget (a GC peak) before it is stopped */
      graceMs: z.number().int().min(0).max(60_000).default(1000),
      /** the kernel's hard limit as a multiple of the budget: the sampler acts first, the kernel is the backstop */
      kernelFactor: z.number().min(1).max(4).default(1.25),
    }).strict().default({ sampleMs: 250, graceMs: 1000, kernelFactor: 1.25 }),
  }).strict().default({ memoryMiB: 64, keepaliveSeconds: 5, memory: { sampleMs: 250, graceMs: 1000, kernelFactor: 1.25 } }),
  modules: z.array(moduleSchema).default([]),
}).strict()

export type Manifest = z.infer<typeof manifestSchema>
export type ManifestInput = z.input<typeof manifestSchema>
export type ModuleSpec = z.infer<typeof moduleSchema>
export type ListenerSpec = z.infer<typeof listener>
