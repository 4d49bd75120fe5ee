// `rpc/core/metrics`: one snapshot of every counter the core keeps, for the metrics module
// (docs/observability.md) and any other reader. Built when asked, from what the core has anyway (the module
// table, the memory watch's samples, the router's and the broker's counts): nothing is kept for it but the
// event counts below, which only the core sees happen.
import { STORE_LIMITS, listenerLimits } from '../broker/limits.js'
import { CALL_DURATION_BUCKETS_MS } from '../broker/call-stats.js'
import type { CallStats } from '../broker/call-stats.js'
import type { BrokerEvents } from '../broker/broker.js'
import type { CoreEvents, GatewayContext } from '../extension.js'
import { clientIdOf } from '../protocol/topics.js'
import type { Management } from './context.js'
import { summarise } from './describe.js'
import { processUsage } from './usage.js'

/** What only the core sees happen, counted since it started. */
export interface EventCounts {
  /** exits of each module instance (`<module>.<instance>`) by reason (docs/protocol.md's exit reasons) */
  exits: Map<string, Map<string, number>>
  /** what the broker refused, by action: a CONNECT (any CONNACK refusal, a connection closed at a limit), a PUBLISH, a SUBSCRIBE */
  refused: { connect: number, publish: number, subscribe: number }
  /** episodes of an operator client throttled at its listener's rate */
  throttled: number
}

/** Starts counting; the function returned stops it. */
export function countEvents (gw: Pick<GatewayContext, 'events' | 'broker'>): { counts: EventCounts, stop: () => void } {
  const counts: EventCounts = { exits: new Map(), refused: { connect: 0, publish: 0, subscribe: 0 }, throttled: 0 }
  const onExit = (...[runtime, instance, , reason]: CoreEvents['module-exit']): void => {
    const id = clientIdOf(runtime.loaded.spec.name, instance)
    let byReason = counts.exits.get(id)
    if (byReason === undefined) counts.exits.set(id, byReason = new Map())
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1)
  }
  const onDenied = (...[event]: BrokerEvents['denied']): void => { counts.refused[event.action]++ }
  const onThrottled = (): void => { counts.throttled++ }
  gw.events.on('module-exit', onExit)
  gw.broker.events.on('denied', onDenied)
  gw.broker.events.on('throttled', onThrottled)
  return {
    counts,
    stop () {
      gw.events.off('module-exit', onExit)
      gw.broker.events.off('denied', onDenied)
      gw.broker.events.off('throttled', onThrottled)
    },
  }
}

const MiB = 1024 * 1024

function callsOf (stats: CallStats | undefined): { calls: number, errors: Record<string, number>, durations: number[], durationMs: number } {
  if (stats === undefined) return { calls: 0, errors: {}, durations: new Array<number>(CALL_DURATION_BUCKETS_MS.length + 1).fill(0), durationMs: 0 }
  return { calls: stats.calls, errors: Object.fromEntries(stats.errors), durations: [...stats.durations], durationMs: stats.durationMs }
}

/** The snapshot (docs/management.md, `metrics`). */
export function metricsSnapshot (m: Management) {
  const { gw, counts } = m
  const now = Date.now()
  const defaultBudget = gw.loaded.manifest.defaults.memoryMiB
  const router = gw.router.stats()
  const runtimes = gw.modules.list()
  const present = new Set(runtimes.flatMap(r => r.instances.map((_, i) => clientIdOf(r.loaded.spec.name, i))))
  // counts of instances no longer in the table (a module removed, or its instances reduced) are forgotten here
  for (const id of counts.exits.keys()) if (!present.has(id)) counts.exits.delete(id)
  gw.broker.traffic.keepOnly(id => present.has(id))
  const hooks = gw.broker.traffic.byClientId

  const modules = runtimes.map(runtime => {
    const name = runtime.loaded.spec.name
    const summary = summarise(runtime, defaultBudget, m.usage, now)
    return {
      module: name,
      enabled: summary.enabled,
      budgetBytes: summary.budgetMiB * MiB,
      instances: summary.instances.map(i => {
        const id = clientIdOf(name, i.instance)
        return {
          instance: i.instance,
          state: i.state,
          restarts: i.restarts,
          exits: Object.fromEntries(counts.exits.get(id) ?? []),
          memoryBytes: i.memoryBytes,
          cpuMs: i.cpuMs,
          hooks: { out: hooks.get(id)?.out ?? 0, in: hooks.get(id)?.in ?? 0 },
          pendingCalls: gw.router.pendingOf(id),
        }
      }),
      calls: callsOf(router.modules.get(name)),
      retained: gw.broker.retainedBy(`module ${name}`),
      logs: { ...gw.log.lost(name) },
    }
  })

  const core = processUsage(process.pid)
  return {
    ts: now,
    uptimeMs: now - m.startedAt,
    modules,
    rpc: { durationBucketsMs: CALL_DURATION_BUCKETS_MS, noSuchModule: router.noSuchModule, repliesNotOwed: router.repliesNotOwed, pendingCalls: gw.router.pending },
    broker: {
      listeners: gw.broker.listenerStats().map((l, i) => ({
        type: l.config.type,
        for: i === 0 ? 'modules' : 'operators',
        url: i === 0 ? gw.broker.moduleUrl : gw.broker.listeners[i - 1]?.url ?? null,
        connections: l.connections,
        clients: l.clients,
        // the module socket has no client limit (broker/limits.ts moduleSocketLimits)
        maxClients: i === 0 ? null : listenerLimits(l.config.limits).maxClients,
        bytesIn: l.bytesIn,
        bytesOut: l.bytesOut,
      })),
      droppedBehind: gw.broker.dropped,
      refused: { ...counts.refused },
      throttled: counts.throttled,
    },
    limits: { ...STORE_LIMITS },
    core: { memoryBytes: core?.memoryBytes ?? null, cpuMs: core?.cpuMs ?? null },
    dropped: { stdoutLines: gw.log.stdoutDropped(), auditRefusalsFolded: m.audit.folded() },
  }
}

export type MetricsSnapshot = ReturnType<typeof metricsSnapshot>
