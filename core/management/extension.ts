// The management API as a core extension: the core answers `rpc/core/<method>` (docs/management.md), keeps
// recent log lines and publishes each as `hooks/core/log/<source>`, audits every change and every refused
// attempt to call core, and logs clients the broker throttles.
import path from 'node:path'
import { callerOf } from '../broker/access.js'
import type { BrokerEvents } from '../broker/broker.js'
import type { ExtensionFactory } from '../extension.js'
import { validateManifest } from '../manifest/load.js'
import { createAuditLog } from './audit.js'
import type { AuditLog } from './audit.js'
import { changeMethods } from './change-methods.js'
import { createOpQueues } from './op-queue.js'
import { OutpostError } from '../errors.js'
import type { Management } from './context.js'
import { createLogStore } from './log-store.js'
import { createManifestStore } from './manifest-store.js'
import { resumeModuleUpdates } from './module-update.js'
import { countEvents } from './metrics.js'
import { readMethods } from './read-methods.js'
import { processUsage } from './usage.js'

export const managementExtension: ExtensionFactory = gw => {
  const cleanups: Array<() => void> = []
  let audit: AuditLog | undefined

  return {
    name: 'management',
    async start () {
      const store = createManifestStore(gw.manifestFile, doc => validateManifest(doc, gw.manifestFile))
      const config = gw.loaded.manifest.audit
      audit = createAuditLog({
        file: path.resolve(gw.loaded.dir, config.file),
        maxBytes: config.maxBytes,
        keep: config.keep,
        repeatWindowMs: config.repeatWindowMs,
        publish: record => gw.bus.emit('audit', record),
        warn: text => gw.log.warn(text),
      })
      const logs = createLogStore()
      cleanups.push(gw.log.addSink(entry => gw.bus.emit(`log/${entry.source}`, logs.add(entry))))

      // the memory watch's samples cover the module's whole process tree; /proc is read only before its first sample
      const usage = (clientId: string, pid: number): ReturnType<typeof processUsage> => {
        const sample = gw.usage(clientId)
        return sample === undefined ? processUsage(pid) : { memoryBytes: sample.bytes, cpuMs: sample.cpuMs }
      }
      const counting = countEvents(gw)
      cleanups.push(counting.stop)
      const stopping = new AbortController()
      const m: Management = { gw, store, audit, logs, usage, counts: counting.counts, startedAt: Date.now(), stopping: stopping.signal }
      const queues = createOpQueues()
      for (const [name, handler] of Object.entries({ ...readMethods(m), ...changeMethods(m, queues) })) gw.bus.method(name, handler)
      // shutdown cancels queued work: nothing may start once the gateway is stopping
      const onStopping = (): void => {
        stopping.abort()
        queues.cancel(new OutpostError('UNAVAILABLE', 'gateway stopping'))
      }
      gw.events.on('stopping', onStopping)
      cleanups.push(() => gw.events.off('stopping', onStopping), () => stopping.abort())

      // a call to core the broker refused (a viewer's change, a module without `core` in its calls) is audited too
      const onDenied = (...[event]: BrokerEvents['denied']): void => {
        if (event.action !== 'publish' || !event.what.startsWith('rpc/core/')) return
        const who = event.identity === undefined ? { kind: 'unknown' as const, from: event.clientId } : callerOf(event.identity)
        audit?.record({ ts: Date.now(), who, op: event.what.slice('rpc/core/'.length), result: 'denied', error: { code: 'NOT_AUTHORISED', message: event.why } })
      }
      const onThrottled = (...[event]: BrokerEvents['throttled']): void => {
        gw.log.warn(`${event.clientId} publishes faster than ${event.messagesPerSecond} messages/s: throttled`)
      }
      gw.broker.events.on('denied', onDenied)
      gw.broker.events.on('throttled', onThrottled)
      cleanups.push(() => gw.broker.events.off('denied', onDenied), () => gw.broker.events.off('throttled', onThrottled))
      // before the modules start: a module update the last core left undecided is finished or undone
      await resumeModuleUpdates(m, queues)
    },
    async stop () {
      for (const cleanup of cleanups.splice(0)) cleanup()
      await audit?.flush()
    },
  }
}
