// The read-only management methods: a viewer may call these (broker/access.ts READ_ONLY_CORE_METHODS).
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { installRoot } from '../paths.js'
import type { MethodHandler } from '../protocol/serve.js'
import { parseCallerTag } from '../broker/access.js'
import type { Caller } from '../broker/access.js'
import type { RawModule } from './manifest-store.js'
import { configKeys, seesSecrets, withoutArguments } from './secrets.js'
import { STORE_LIMITS } from '../broker/limits.js'
import { mergePolicy } from '../supervisor/merge-policy.js'
import { logsArgs, moduleArgs, parseArgs } from './args.js'
import type { Management } from './context.js'
import { summarise } from './describe.js'
import { metricsSnapshot } from './metrics.js'
import { processUsage } from './usage.js'
import { installFromEnv, updateStatus } from '../update/install.js'
import { modulesRoot, moduleUpdates } from '../update/module-store.js'

const OUTPOST_VERSION = (JSON.parse(readFileSync(path.join(installRoot, 'package.json'), 'utf8')) as { version: string }).version

function availableMemory (): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
    if (match !== null) return Number(match[1]) * 1024
  } catch {
    // not Linux
  }
  return os.freemem()
}

/** A module's manifest entry as a caller may see it (secrets.ts): its config's keys and its command's program only, unless an admin asks. */
function entryFor (raw: RawModule | null, caller: Caller | null): RawModule | null {
  if (raw === null || seesSecrets(caller)) return raw
  return { ...raw, ...(raw.config === undefined ? {} : { config: configKeys(raw.config) }), ...(Array.isArray(raw.command) ? { command: withoutArguments(raw.command) } : {}) } as RawModule
}

export function readMethods (m: Management): Record<string, MethodHandler> {
  const { gw } = m
  const defaultBudget = (): number => gw.loaded.manifest.defaults.memoryMiB
  const summaries = () => gw.modules.list().map(runtime => summarise(runtime, defaultBudget(), m.usage))

  return {
    list: () => summaries(),

    status (args, call) {
      const { module } = parseArgs('status', moduleArgs, args)
      const runtime = gw.modules.require(module)
      const { spec, entry } = runtime.loaded
      const caller = parseCallerTag(call.from)
      return {
        ...summarise(runtime, defaultBudget(), m.usage),
        spec: entryFor(m.store.rawModule(module) ?? null, caller),
        program: entry.script ?? (entry.command === undefined ? null : seesSecrets(caller) ? entry.command : withoutArguments(entry.command)),
        policy: mergePolicy(gw.loaded.manifest.defaults.restart, spec.restart),
        calls: spec.calls,
        after: spec.after,
        limits: {
          // what the module makes the broker hold, against its limits (docs/manifest.md, "Broker limits")
          retained: { ...gw.broker.retainedBy(`module ${module}`), maxTopics: STORE_LIMITS.retainedTopics, maxBytes: STORE_LIMITS.retainedBytes },
          pendingCalls: {
            held: runtime.instances.reduce((total, _, i) => total + gw.router.pendingOf(`${module}.${i}`), 0),
            gateway: gw.router.pending,
            maxPerCaller: STORE_LIMITS.pendingCallsPerCaller,
            maxPerIdentity: STORE_LIMITS.pendingCallsPerIdentity,
            maxGateway: STORE_LIMITS.pendingCalls,
          },
        },
        /** lines of its output dropped over the rate limit and cut at the line limit (modules/output.ts) */
        logs: { ...gw.log.lost(module) },
      }
    },

    info (_args, call) {
      const modules = summaries()
      const core = processUsage(process.pid)
      return {
        gateway: gw.loaded.manifest.gateway,
        /** who asked, as the broker stamped it: a client learns its own role (the dashboard shows admins their buttons) */
        caller: parseCallerTag(call.from),
        board: { name: gw.board.name, title: gw.board.title, ramMiB: gw.board.ramMiB, simulated: gw.board.simulated },
        versions: { outpost: OUTPOST_VERSION, node: process.version, aedes: (gw.broker.aedes as unknown as { version: string }).version, os: `${os.type()} ${os.release()} ${os.arch()}` },
        startedAt: m.startedAt,
        uptimeMs: Date.now() - m.startedAt,
        memory: {
          totalBytes: os.totalmem(),
          availableBytes: availableMemory(),
          coreBytes: core?.memoryBytes ?? null,
          modulesBytes: modules.reduce((total, s) => total + (s.memoryBytes ?? 0), 0),
        },
        load: os.loadavg(),
        listeners: [
          { type: 'unix', url: gw.broker.moduleUrl, for: 'modules' },
          ...gw.broker.listeners.map(({ config, url }) => ({
            type: config.type,
            url,
            for: 'operators',
            anonymous: (config.type === 'tcp' || config.type === 'unix') && config.anonymous === true,
            clientCertificates: config.type === 'tls' && config.requireClientCert === true,
          })),
        ],
        manifest: gw.manifestFile,
        modules: { total: modules.length, running: modules.filter(s => s.state === 'running').length },
        /** the release running and the last update's outcome; null when not run by outpost-boot (docs/deploy.md) */
        update: updateStatus(installFromEnv(process.env)),
        /** each module's last module update (its update.json), by module; {} when none was ever updated */
        moduleUpdates: moduleUpdates(modulesRoot(gw.loaded.dir)),
        /** log lines the core's stdout lost to a slow reader; refusals folded into audit records */
        dropped: { stdoutLines: gw.log.stdoutDropped(), auditRefusalsFolded: m.audit.folded() },
        /** what the connection and call limits refused since the core started (docs/security.md) */
        limits: { ...gw.broker.limitCounts(), calls: { inFlight: gw.router.pending, refused: { ...gw.router.refused } } },
      }
    },

    metrics: () => metricsSnapshot(m),

    logs (args) {
      const query = parseArgs('logs', logsArgs, args)
      if (query.module !== undefined && query.module !== 'core') gw.modules.require(query.module)
      const tail = m.logs.tail({
        lines: query.lines,
        ...(query.module === undefined ? {} : { source: query.module }),
        ...(query.since === undefined ? {} : { since: query.since }),
        ...(query.level === undefined ? {} : { level: query.level }),
      })
      return { ...tail, follow: `hooks/core/log/${query.module ?? '+'}` }
    },
  }
}
