// What the management methods share: the gateway, the manifest on disk, the audit log, the log history.
import type { GatewayContext } from '../extension.js'
import type { AuditLog } from './audit.js'
import type { LogStore } from './log-store.js'
import type { ManifestStore } from './manifest-store.js'
import type { InstanceUsage } from './describe.js'
import type { EventCounts } from './metrics.js'

export interface Management {
  gw: GatewayContext
  store: ManifestStore
  audit: AuditLog
  logs: LogStore
  usage: InstanceUsage
  /** what only the core sees happen (exits by reason, broker refusals), for `metrics` */
  counts: EventCounts
  startedAt: number
  /** aborted once the gateway begins to stop: a module update's health check stops waiting */
  stopping: AbortSignal
}
