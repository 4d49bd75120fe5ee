// The core's snapshot (rpc/core/metrics, docs/management.md) as metric families: the list docs/observability.md
// documents, in the same order. Names follow Prometheus's conventions: the `outpost_` prefix, base units in
// the name (bytes, seconds), `_total` on counters.
import type { MetricsSnapshot } from '../../core/management/metrics.js'
import { histogramSamples } from './exposition.js'
import type { Family, Sample } from './exposition.js'

/** every state an instance can be in (docs/supervision.md): one series each, 1 for the one it is in */
export const STATES = ['starting', 'running', 'stopping', 'backoff', 'stopped', 'failed']

const family = (name: string, type: Family['type'], help: string, samples: Sample[], unit?: Family['unit']): Family =>
  unit === undefined ? { name, type, help, samples } : { name, type, help, unit, samples }

export function families (s: MetricsSnapshot): Family[] {
  const instances = s.modules.flatMap(m => m.instances.map(i => ({ labels: { module: m.module, instance: String(i.instance) }, i })))
  const perInstance = (value: (i: MetricsSnapshot['modules'][number]['instances'][number]) => number | null): Sample[] =>
    instances.flatMap(({ labels, i }) => {
      const v = value(i)
      return v === null ? [] : [{ labels, value: v }]
    })
  const perModule = (value: (m: MetricsSnapshot['modules'][number]) => number): Sample[] =>
    s.modules.map(m => ({ labels: { module: m.module }, value: value(m) }))
  const listeners = s.broker.listeners.map(l => ({ labels: { listener: l.url ?? l.type, for: l.for }, l }))
  const bucketsSeconds = s.rpc.durationBucketsMs.map(ms => ms / 1000)

  return [
    // ── modules and their instances ──
    family('outpost_module_state', 'gauge', 'Whether the instance is in this state (1) or not (0).',
      instances.flatMap(({ labels, i }) => STATES.map(state => ({ labels: { ...labels, state }, value: i.state === state ? 1 : 0 })))),
    family('outpost_module_restarts', 'counter', 'Restarts the supervisor made of the instance (an operator\'s start or restart is not one); back to 0 when a change rebuilds the module.', perInstance(i => i.restarts)),
    family('outpost_module_exits', 'counter', 'Exits of the instance\'s process, by reason (exit-code, permanent, signal, over-budget, oom, hung, ready-timeout, disconnected, stopped).',
      instances.flatMap(({ labels, i }) => Object.entries(i.exits).map(([reason, n]) => ({ labels: { ...labels, reason }, value: n })))),
    family('outpost_module_memory_bytes', 'gauge', 'Private memory (RssAnon + RssShmem) of the instance\'s process tree, once it has said ready.', perInstance(i => i.memoryBytes), 'bytes'),
    family('outpost_module_memory_budget_bytes', 'gauge', 'The memory budget of each instance of the module.', perModule(m => m.budgetBytes), 'bytes'),
    family('outpost_module_cpu_seconds', 'counter', 'CPU time (user + system) of the instance\'s process tree since its process started (starts again at 0 when it restarts).',
      perInstance(i => (i.cpuMs === null ? null : i.cpuMs / 1000)), 'seconds'),
    family('outpost_module_hooks_emitted', 'counter', 'Hooks the instance published that the broker accepted.', perInstance(i => i.hooks.out)),
    family('outpost_module_hooks_received', 'counter', 'Hook messages the broker delivered to the instance.', perInstance(i => i.hooks.in)),
    family('outpost_module_pending_calls', 'gauge', 'Calls the instance holds now (given to it, not yet answered).', perInstance(i => i.pendingCalls)),
    family('outpost_module_retained_topics', 'gauge', 'Retained topics the module holds in the broker (limit: outpost_retained_topics_limit).', perModule(m => m.retained.topics)),
    family('outpost_module_retained_bytes', 'gauge', 'Bytes of retained messages the module holds in the broker (limit: outpost_retained_limit_bytes).', perModule(m => m.retained.bytes), 'bytes'),
    family('outpost_module_log_lines_dropped', 'counter', 'Lines the module\'s instances printed that were dropped over defaults.logs.linesPerSecond.', perModule(m => m.logs.linesDropped)),
    family('outpost_module_log_lines_cut', 'counter', 'Lines the module\'s instances printed that were cut at defaults.logs.maxLineBytes.', perModule(m => m.logs.linesCut)),

    // ── RPC, as the broker's router sees it ──
    family('outpost_rpc_calls', 'counter', 'Calls the router gave to an instance of the module.', perModule(m => m.calls.calls)),
    family('outpost_rpc_errors', 'counter', 'Error replies for calls to the module, by code: the module\'s own, and those the router gave for it (UNAVAILABLE, TOO_MANY_CALLS, TIMEOUT when it stopped waiting). A code outside the registry counts as OTHER.',
      s.modules.flatMap(m => Object.entries(m.calls.errors).map(([code, n]) => ({ labels: { module: m.module, code }, value: n })))),
    family('outpost_rpc_duration_seconds', 'histogram', 'Time from a request passing the broker to its reply passing it back: the module\'s handling and both hops inside the gateway.',
      s.modules.flatMap(m => histogramSamples({ module: m.module }, bucketsSeconds, m.calls.durations, m.calls.durationMs / 1000)), 'seconds'),
    family('outpost_rpc_unknown_module_calls', 'counter', 'Calls to a module the gateway does not have (answered NO_SUCH_MODULE).', [{ labels: {}, value: s.rpc.noSuchModule }]),
    family('outpost_rpc_pending_calls', 'gauge', 'Calls in flight through the router, all callers together.', [{ labels: {}, value: s.rpc.pendingCalls }]),
    family('outpost_rpc_pending_calls_limit', 'gauge', 'Calls in flight through the router past which a call is refused (TOO_MANY_CALLS).', [{ labels: {}, value: s.limits.pendingCalls }]),
    family('outpost_rpc_pending_calls_per_caller_limit', 'gauge', 'Calls in flight from one caller to one instance past which a call is refused (TOO_MANY_CALLS).', [{ labels: {}, value: s.limits.pendingCallsPerCaller }]),
    family('outpost_rpc_pending_calls_per_identity_limit', 'gauge', 'Calls in flight from one identity (an operator user, a module, anonymous clients of one role), all its connections and targets together, past which a call is refused (TOO_MANY_CALLS).', [{ labels: {}, value: s.limits.pendingCallsPerIdentity }]),

    // ── the broker ──
    family('outpost_broker_connections', 'gauge', 'Connections open on the listener, logged in or not.', listeners.map(({ labels, l }) => ({ labels, value: l.connections }))),
    family('outpost_broker_clients', 'gauge', 'Clients logged in on the listener.', listeners.map(({ labels, l }) => ({ labels, value: l.clients }))),
    family('outpost_broker_clients_limit', 'gauge', 'The listener\'s maxClients (operator listeners; the module socket has none).',
      listeners.flatMap(({ labels, l }) => (l.maxClients === null ? [] : [{ labels, value: l.maxClients }]))),
    family('outpost_broker_received_bytes', 'counter', 'Bytes read from the listener\'s connections.', listeners.map(({ labels, l }) => ({ labels, value: l.bytesIn })), 'bytes'),
    family('outpost_broker_sent_bytes', 'counter', 'Bytes written to the listener\'s connections.', listeners.map(({ labels, l }) => ({ labels, value: l.bytesOut })), 'bytes'),
    family('outpost_broker_dropped_messages', 'counter', 'Messages the broker dropped, by reason: subscriber_behind (for a subscriber over 4 MiB unsent), reply_not_owed (a module\'s reply to no call it held, or too late).', [
      { labels: { reason: 'subscriber_behind' }, value: s.broker.droppedBehind },
      { labels: { reason: 'reply_not_owed' }, value: s.rpc.repliesNotOwed },
    ]),
    family('outpost_broker_refusals', 'counter', 'What the broker refused, by action, as its warning lines say: connect (a CONNACK refusal; a login block once, when it starts; connections closed at a pending limit once per episode), publish (the client was disconnected), subscribe (SUBACK 0x80).',
      (['connect', 'publish', 'subscribe'] as const).map(action => ({ labels: { action }, value: s.broker.refused[action] }))),
    family('outpost_broker_throttled', 'counter', 'Episodes of an operator client held back at its listener\'s message rate.', [{ labels: {}, value: s.broker.throttled }]),
    family('outpost_retained_topics_limit', 'gauge', 'Retained topics one publisher may hold.', [{ labels: {}, value: s.limits.retainedTopics }]),
    family('outpost_retained_limit_bytes', 'gauge', 'Bytes of retained messages one publisher may hold.', [{ labels: {}, value: s.limits.retainedBytes }], 'bytes'),

    // ── the core itself ──
    family('outpost_core_memory_bytes', 'gauge', 'Private memory (RssAnon + RssShmem) of the core process.', s.core.memoryBytes === null ? [] : [{ labels: {}, value: s.core.memoryBytes }], 'bytes'),
    family('outpost_core_cpu_seconds', 'counter', 'CPU time (user + system) of the core process.', s.core.cpuMs === null ? [] : [{ labels: {}, value: s.core.cpuMs / 1000 }], 'seconds'),
    family('outpost_core_uptime_seconds', 'gauge', 'Time since the core started.', [{ labels: {}, value: s.uptimeMs / 1000 }], 'seconds'),
    family('outpost_core_stdout_lines_dropped', 'counter', 'Log lines the core did not write to its stdout because its reader was behind (they are still kept for `logs`).', [{ labels: {}, value: s.dropped.stdoutLines }]),
    family('outpost_audit_refusals_folded', 'counter', 'Refusals written as part of a folded audit record.', [{ labels: {}, value: s.dropped.auditRefusalsFolded }]),
  ]
}
