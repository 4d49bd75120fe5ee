// The manifest's `uplink` section (docs/fleet.md, docs/manifest.md): where the gateway connects out to an
// upstream broker, what goes up, what may come down and for whom. The core turns it into the built-in
// module `uplink` (uplink.ts); modules/uplink validates the same object as its config.
import { z } from 'zod'
import { canSubscribe } from '../broker/access.js'
import { restartPolicySchema } from '../supervisor/policy-schema.js'
import { FLEET_ID, TOPIC_SEGMENT, isTopicRoot } from './fleet-names.js'

const moduleName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a module name')
const methodName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a method name')
const userName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'an operator name: letters, digits, "_" or "-", starting with a letter')

/** who the uplink is to the broker, for the filters it may subscribe to */
const UPLINK_IDENTITY = { kind: 'module', clientId: 'uplink.0', module: 'uplink', instance: 0, calls: '*' } as const

/** `<module>/<hook>` with MQTT wildcards, as the SDK's `on` takes it: `sensor/reading`, `+/edge/#` */
const hookFilter = z.string().refine(f => {
  const levels = f.split('/')
  return levels.length >= 2 && levels.length <= 5 && levels.every((l, i) => l === '+' || (l === '#' && i === levels.length - 1 && i > 0) || TOPIC_SEGMENT.test(l))
}, 'a hook filter "<module>/<hook>": 2–5 levels of [A-Za-z0-9_-], "+" for one level, "#" last')
  // the uplink is a module: the broker would refuse it what it refuses any module (and the uplink would exit)
  .refine(f => canSubscribe(UPLINK_IDENTITY, `hooks/${f}`), 'the core\'s log and audit hooks (core/log/…, core/audit) are for operators; no module, the uplink included, may read them')

export const uplinkSchema = z.object({
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: z.string()
    .regex(/^(mqtts?|wss?):\/\/[^\s/]+(\/\S*)?$/, 'an upstream URL: mqtt://, mqtts://, ws:// or wss://host[:port][/path]')
    // the URL is logged (every failed connect), where viewers and modules read it: credentials have their own fields
    .refine(url => !/^[a-z]+:\/\/[^/]*@/.test(url), 'no user or password in the URL (it is logged): use "username" and "password"'),
  enabled: z.boolean().default(true),
  /** this gateway's name in the fleet (default: the manifest's `gateway`) */
  fleetId: z.string().regex(FLEET_ID, 'a fleet id: letters, digits, ".", "_" or "-"').optional(),
  /** topics are `<topicRoot>/<fleetId>/…` */
  topicRoot: z.string().refine(isTopicRoot, '1–4 levels of [A-Za-z0-9_-]').default('outpost'),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  /** PEM files; relative paths resolve against the manifest's folder */
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  keepaliveSeconds: z.number().int().min(5).max(1200).default(60),
  backoff: z.object({
    initialMs: z.number().int().min(100).default(1000),
    maxMs: z.number().int().min(1000).default(60_000),
    factor: z.number().min(1).max(10).default(2),
    /** each delay is drawn from [delay × (1 − jitter), delay]: a fleet that lost its upstream together does not come back together */
    jitter: z.number().min(0).max(1).default(0.5),
  }).strict().default({ initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.5 }),
  /** hooks that go up; the first filter a hook matches decides */
  hooks: z.array(z.object({ filter: hookFilter, qos: z.union([z.literal(0), z.literal(1)]).default(0), store: z.boolean().default(false) }).strict()
    .refine(h => !h.store || h.qos === 1, { message: 'a stored hook goes up with QoS 1', path: ['qos'] })).max(64).default([]),
  /** fleet operators (named by the upstream's ACL in the request topic) and their role on this gateway */
  operators: z.array(z.object({ user: userName, role: z.enum(['admin', 'viewer']) }).strict()).max(256).default([]),
  /** module methods fleet operators may call (core's own methods are always there, by role) */
  expose: z.array(z.object({
    module: moduleName,
    methods: z.union([z.literal('*'), z.array(methodName).min(1)]),
    /** the least role that may call them */
    role: z.enum(['admin', 'viewer']).default('admin'),
  }).strict()).max(64).default([]),
  /** bounds on what comes down, and on what waits to go up */
  limits: z.object({
    maxRequestBytes: z.number().int().min(256).max(1_048_576).default(65_536),
    requestsPerSecond: z.number().positive().max(10_000).default(20),
    burst: z.number().int().min(1).max(10_000).default(40),
    maxInFlight: z.number().int().min(1).max(1024).default(16),
    /** of maxInFlight, what one operator may hold: a viewer's slow requests cannot crowd out an admin */
    maxInFlightPerOperator: z.number().int().min(1).max(1024).default(8),
    maxTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** bytes waiting unsent to the upstream (every kind of write) past which requests are refused and hooks held back */
    maxBacklogBytes: z.number().int().min(65_536).max(268_435_456).default(4_194_304),
    /** a reply larger than this (encoded) is replaced by a TOO_LARGE error */
    maxReplyBytes: z.number().int().min(4096).max(67_108_864).default(4_194_304),
    /** reply bytes one operator is sent a second, on average (up to maxReplyBytes at once) */
    replyBytesPerSecond: z.number().int().min(4096).max(1_073_741_824).default(1_048_576),
    /** reply bytes one operator's requests may hold in the uplink at once (64 KiB reserved per request, then the reply's size) */
    maxReplyBytesPerOperator: z.number().int().min(65_536).max(268_435_456).default(4_194_304),
    /** reply bytes all operators' requests may hold in the uplink at once */
    maxReplyBytesInFlight: z.number().int().min(65_536).max(268_435_456).default(8_388_608),
  }).strict().default({ maxRequestBytes: 65_536, requestsPerSecond: 20, burst: 40, maxInFlight: 16, maxInFlightPerOperator: 8, maxTimeoutMs: 30_000, maxBacklogBytes: 4_194_304, maxReplyBytes: 4_194_304, replyBytesPerSecond: 1_048_576, maxReplyBytesPerOperator: 4_194_304, maxReplyBytesInFlight: 8_388_608 }),
  /** the store-and-forward queue of hooks marked `store` */
  queue: z.object({
    /** relative to the manifest's folder; never in the runtime folder, which need not survive a reboot */
    dir: z.string().min(1).default('uplink-queue'),
    maxBytes: z.number().int().min(262_144).default(67_108_864),
    maxAgeMs: z.number().int().min(1000).default(604_800_000),
    segmentBytes: z.number().int().min(16_384).max(67_108_864).default(1_048_576),
    fsyncEveryMs: z.number().int().min(0).max(60_000).default(1000),
    fsyncEveryRecords: z.number().int().min(1).max(1_000_000).default(1000),
    /** stored hooks sent and not yet acknowledged by the upstream */
    window: z.number().int().min(1).max(1000).default(64),
  }).strict().refine(q => q.maxBytes >= 4 * q.segmentBytes, { message: 'maxBytes must hold at least 4 segments (4 × segmentBytes)', path: ['maxBytes'] })
    .default({ dir: 'uplink-queue', maxBytes: 67_108_864, maxAgeMs: 604_800_000, segmentBytes: 1_048_576, fsyncEveryMs: 1000, fsyncEveryRecords: 1000, window: 64 }),
  /** the retained status is refreshed this often (its `ts` is the gateway's "last seen") */
  statusEveryMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  memoryMiB: z.number().int().min(24).max(65536).optional(),
  restart: restartPolicySchema.optional(),
}).strict()
  .refine(u => (u.cert === undefined) === (u.key === undefined), { message: 'a client certificate needs its key, and a key its certificate', path: ['cert'] })
  .refine(u => u.password === undefined || u.username !== undefined, { message: 'a password needs a username', path: ['password'] })

export type UplinkSection = z.infer<typeof uplinkSchema>

/** What the uplink module gets as its config: the section with paths resolved and the fleet id settled. */
export type UplinkConfig = Omit<UplinkSection, 'enabled' | 'memoryMiB' | 'restart' | 'fleetId'> & { fleetId: string, version: string }
