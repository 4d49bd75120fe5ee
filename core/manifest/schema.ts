// The gateway manifest's schema: the one source of both validation and the TypeScript types
// (docs/manifest.md is the reference). Unknown keys are errors, so a typo never passes silently.
import { z } from 'zod'
import { restartPolicySchema } from '../supervisor/policy-schema.js'
import { metricsSchema } from './metrics-schema.js'
import { uplinkSchema } from './uplink-schema.js'

const moduleName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a module name: lower-case letters, digits and "-", starting with a letter, at most 32 characters')
/** a user or group name as useradd and groupadd take it (Debian's default NAME_REGEX, with upper case) */
const accountName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,31}$/, 'a user or group name of this system: letters, digits, "_" or "-", not starting with a digit or "-", at most 32 characters')

// ── Operators, listener limits, audit (management: docs/management.md) ──
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/

/** Per listener, like Mosquitto's per-listener max_connections: every field optional over broker/limits.ts. */
const listenerLimits = z.object({
  maxClients: z.number().int().min(1).max(100_000).optional(),
  maxClientsPerUser: z.number().int().min(1).max(100_000).optional(),
  adminReserve: z.number().int().min(0).max(100_000).optional(),
  maxPacketBytes: z.number().int().min(1024).max(268_435_455).optional(),
  maxPending: z.number().int().min(1).max(100_000).optional(),
  maxPendingPerAddress: z.number().int().min(1).max(100_000).optional(),
  maxConnectBytes: z.number().int().min(1024).max(1_048_576).optional(),
  rate: z.object({
    messagesPerSecond: z.number().positive().optional(),
    burst: z.number().int().min(1).optional(),
    action: z.enum(['throttle', 'disconnect']).optional(),
  }).strict().optional(),
}).strict()
  .refine(l => l.adminReserve === undefined || l.adminReserve < (l.maxClients ?? 32), { path: ['adminReserve'], message: 'the admin reserve must leave viewers at least one of maxClients (default 32)' })

const operator = z.object({
  user: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a user name: letters, digits, "_" or "-", starting with a letter (no dots: <name>.<n> is a module\'s client id)'),
  role: z.enum(['admin', 'viewer']),
  passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/, 'a hash made by `outpost passwd` (scrypt$…), never a password in clear'),
}).strict()

const listener = z.discriminatedUnion('type', [
  z.object({ type: z.literal('tcp'), host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535), anonymous: z.boolean().default(false), limits: listenerLimits.optional() }).strict()
    .refine(l => !l.anonymous || LOOPBACK.test(l.host), { path: ['anonymous'], message: 'anonymous access is only allowed on a loopback address (127.0.0.1, ::1): use operators with passwords on other addresses' }),
  z.object({
    type: z.literal('tls'),
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535),
    cert: z.string(),
    key: z.string(),
    ca: z.string().optional(),
    requireClientCert: z.boolean().default(false),
    limits: listenerLimits.optional(),
  }).strict(),
  z.object({ type: z.literal('unix'), path: z.string(), anonymous: z.boolean().default(false), limits: listenerLimits.optional() }).strict(),
  // MQTT over WebSocket, for the dashboard and other browser clients: never anonymous, since any web page
  // the operator's browser opens may connect to it (docs/security.md)
  z.object({
    type: z.literal('ws'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535),
    path: z.string().regex(/^\/[\x21-\x7e]{0,255}$/, 'an HTTP path: "/" and printable characters, no spaces or "?"').refine(p => !p.includes('?'), 'an HTTP path without a query').default('/mqtt'),
    cert: z.string().optional(),
    key: z.string().optional(),
    origins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin: http(s)://host[:port], no path')).min(1).optional(),
    limits: listenerLimits.optional(),
  }).strict()
    .refine(l => (l.cert === undefined) === (l.key === undefined), { path: ['cert'], message: 'cert and key go together (both: wss://, neither: ws://)' }),
])

/** a module's config, serialized as JSON, at most this many bytes: it is written to a file for every spawn */
export const MAX_CONFIG_BYTES = 65_536

const moduleConfig = z.record(z.string(), z.unknown()).default({}).superRefine((config, ctx) => {
  const bytes = Buffer.byteLength(JSON.stringify(config))
  if (bytes > MAX_CONFIG_BYTES) ctx.addIssue({ code: 'custom', message: `the config is ${bytes} bytes as JSON, over the limit of ${MAX_CONFIG_BYTES} bytes (64 KiB): keep large data in a file the module reads` })
})

/** query tracking (docs/observability.md, "Tracing"): how many of the traces a module starts are sampled */
const tracing = z.object({
  sampleRate: z.number().min(0).max(1).default(0.01),
}).strict()

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
  /** this module's own sampling rate; set here or at the top level, tracing is on for the module */
  tracing: tracing.optional(),
  /** the system user the module runs as (default: `defaults.user`, else the core's own user): docs/manifest.md */
  user: accountName.optional(),
  /** supplementary groups of that user's process (e.g. `dialout`, `gpio`), besides `moduleGroup`; only with a user */
  groups: z.array(accountName).max(32).optional(),
  config: moduleConfig,
}).strict()

export const manifestSchema = z.object({
  gateway: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a gateway name: letters, digits, ".", "_" or "-"'),
  board: z.string().default('auto'),
  /** where the broker's module socket and runtime files live; default: <tmpdir>/outpost-<gateway> */
  runtimeDir: z.string().optional(),
  /** the group every module user is in: owns the runtime folder (0750) and the module socket (0660) */
  moduleGroup: accountName.optional(),
  broker: z.object({
    listeners: z.array(listener).default([{ type: 'tcp', host: '127.0.0.1', port: 1883, anonymous: false }]),
    drainTimeoutMs: z.number().int().min(100).default(5000),
  }).strict().default({ listeners: [{ type: 'tcp', host: '127.0.0.1', port: 1883, anonymous: false }], drainTimeoutMs: 5000 }),
  defaults: z.object({
    memoryMiB: z.number().int().min(24).default(64),
    keepaliveSeconds: z.number().int().min(1).max(60).default(5),
    /** the user a module without its own `user` runs as; none: the core's own user */
    user: accountName.optional(),
    restart: restartPolicySchema.optional(),
    memory: z.object({
      /** how often each module's private memory is sampled */
      sampleMs: z.number().int().min(10).max(500).default(250),
      /** how long a module may stay over budget (a GC peak) before it is stopped */
      graceMs: z.number().int().min(0).max(60_000).default(1000),
      /** the kernel's hard limit as a multiple of the budget: the sampler acts first, the kernel is the backstop */
      kernelFactor: z.number().min(1).max(4).default(1.25),
    }).strict().default({ sampleMs: 250, graceMs: 1000, kernelFactor: 1.25 }),
    /** what the core reads of each module instance's stdout and stderr (modules/output.ts) */
    logs: z.object({
      linesPerSecond: z.number().positive().max(100_000).default(200),
      burst: z.number().int().min(1).max(100_000).default(1000),
      maxLineBytes: z.number().int().min(256).max(1_048_576).default(8192),
    }).strict().default({ linesPerSecond: 200, burst: 1000, maxLineBytes: 8192 }),
  }).strict().default({ memoryMiB: 64, keepaliveSeconds: 5, memory: { sampleMs: 250, graceMs: 1000, kernelFactor: 1.25 }, logs: { linesPerSecond: 200, burst: 1000, maxLineBytes: 8192 } }),
  modules: z.array(moduleSchema).default([]),
  operators: z.array(operator).default([]).superRefine((ops, ctx) => {
    const seen = new Set<string>()
    ops.forEach((op, i) => {
      if (seen.has(op.user)) ctx.addIssue({ code: 'custom', path: [i, 'user'], message: `duplicate operator "${op.user}"` })
      seen.add(op.user)
    })
  }),
  /** release updates (docs/deploy.md): who may sign them */
  updates: z.object({
    /** public keys (`outpost keygen` prints one) whose signed bundles this gateway accepts; none: no update is accepted */
    keys: z.array(z.string().regex(/^ed25519:[A-Za-z0-9+/]{43}=$/, 'a public key as outpost keygen prints it: ed25519:<base64 of 32 bytes>')).default([]),
    /** releases kept in releases/ after an update is committed: the running one, the one before, then the newest */
    keep: z.number().int().min(2).max(10).default(2),
    /** how long a new release has, from its core's start, until every module that ran before runs again */
    healthTimeoutMs: z.number().int().min(5000).max(3_600_000).default(120_000),
    /** the largest bundle downloaded; it may unpack to 4 times this */
    maxBundleBytes: z.number().int().min(1_048_576).max(1_073_741_824).default(268_435_456),
  }).strict().default({ keys: [], keep: 2, healthTimeoutMs: 120_000, maxBundleBytes: 268_435_456 }),
  /** the audit log of management operations; a relative file is relative to the manifest's folder */
  audit: z.object({
    file: z.string().min(1).default('audit.log'),
    maxBytes: z.number().int().min(4096).default(1_048_576),
    keep: z.number().int().min(1).max(100).default(5),
    /** identical refusals (same caller, method, module) within this window are written as one record */
    repeatWindowMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  }).strict().default({ file: 'audit.log', maxBytes: 1_048_576, keep: 5, repeatWindowMs: 60_000 }),
  /** connect out to an upstream broker for fleet management (docs/fleet.md); becomes the module `uplink` */
  uplink: uplinkSchema.optional(),
  /** query tracking for every module (a module's own `tracing` overrides it); absent: off */
  tracing: tracing.optional(),
  /** an HTTP endpoint for Prometheus (docs/observability.md); becomes the module `metrics` */
  metrics: metricsSchema.optional(),
}).strict()

export type Manifest = z.infer<typeof manifestSchema>
export type ManifestInput = z.input<typeof manifestSchema>
export type ModuleSpec = z.infer<typeof moduleSchema>
export type ListenerSpec = z.infer<typeof listener>
export type OperatorSpec = z.infer<typeof operator>
export type ListenerLimitsSpec = z.infer<typeof listenerLimits>
