// The management methods that change the gateway. One at a time per module (op-queue.ts), each with a
// deadline, each audited with the caller the broker stamped on the request; manifest changes go through the
// store (validate, write atomically, one at a time) before anything runs, and are applied by restarting that
// module alone.
import { parseCallerTag, refusedOnBehalf } from '../broker/access.js'
import type { Caller } from '../broker/access.js'
import { OutpostError } from '../errors.js'
import { describeState, stateMessage } from '../modules/state.js'
import type { ModuleRuntime } from '../modules/table.js'
import type { CallInfo, MethodHandler } from '../protocol/serve.js'
import { topics } from '../protocol/topics.js'
import { addArgs, configureArgs, moduleArgs, parseArgs } from './args.js'
import type { AuditRecord } from './audit.js'
import type { Management } from './context.js'
import type { OpQueues } from './op-queue.js'
import { summarise } from './describe.js'
import type { ModuleSummary } from './describe.js'
import { mergePatch } from './manifest-store.js'
import { clearRetained, replaceModule } from './replace.js'
import { UPDATE_TIMEOUT_MS, updateMethod } from './update-method.js'
import type { RawModule } from './manifest-store.js'
import { urlWithoutCredentials, withoutArguments } from './secrets.js'

/** what an audit record (which viewers read) says was asked for, without what may be a secret (secrets.ts) */
function changeOf (op: string, args: Record<string, unknown>): Record<string, unknown> | undefined {
  if (op === 'configure') {
    const { module: _module, config, ...rest } = args
    return config !== null && typeof config === 'object' ? { ...rest, config: Object.keys(config) } : rest
  }
  if (op === 'update') return { url: typeof args.url === 'string' ? urlWithoutCredentials(args.url) : args.url }
  if (op === 'add') {
    const { config: _config, ...spec } = (args.spec ?? {}) as Record<string, unknown>
    return Array.isArray(spec.command) && spec.command.every(word => typeof word === 'string') ? { ...spec, command: withoutArguments(spec.command) } : spec
  }
  return undefined
}

function targetOf (args: Record<string, unknown>): string | undefined {
  if (typeof args.module === 'string') return args.module
  const name = (args.spec as { name?: unknown } | undefined)?.name
  return typeof name === 'string' ? name : undefined
}

/**
 * Every operation answers within this long (or 90% of the timeout its request names, if shorter, so the
 * answer reaches the caller before it gives up): the CLI waits 30 s by default.
 */
export const OPERATION_TIMEOUT_MS = 20_000

/** what a module's operation is waiting for, when its deadline passes */
function waitingFor (m: Management, module: string): () => string {
  return () => {
    const runtime = m.gw.modules.get(module)
    const unsettled = runtime?.instances.filter(i => !['running', 'stopped', 'failed'].includes(i.state.status)) ?? []
    if (unsettled.length === 0) return `waiting on ${module}`
    return `waiting for ${unsettled.map(i => `${module}.${i.instance} (${i.state.status})`).join(', ')} to settle`
  }
}

export function changeMethods (m: Management, queues: OpQueues): Record<string, MethodHandler> {
  const { gw } = m
  const summary = (runtime: ModuleRuntime): ModuleSummary => summarise(runtime, gw.loaded.manifest.defaults.memoryMiB, m.usage)

  const change = (op: string, run: (args: unknown, caller: Caller | null) => Promise<unknown>, preempt?: (args: unknown) => void, maxMs = OPERATION_TIMEOUT_MS): MethodHandler => async (args: unknown, call: CallInfo) => {
    const caller = parseCallerTag(call.from)
    const onBehalfOf = refusedOnBehalf(call.from) // its sender, when it named someone it may not
    const loose = (args !== null && typeof args === 'object' ? args : {}) as Record<string, unknown>
    const module = targetOf(loose)
    const record = (rest: Pick<AuditRecord, 'result' | 'error'>): void => {
      const who: AuditRecord['who'] = caller ?? onBehalfOf ?? { kind: 'unknown', from: call.from ?? null }
      const change = changeOf(op, loose)
      m.audit.record({ ts: Date.now(), who, op, ...(module === undefined ? {} : { module }), ...rest, ...(change === undefined ? {} : { change }) })
    }
    const failed = (err: unknown): never => {
      const error = err instanceof OutpostError ? { code: err.code, message: err.message } : { code: 'HANDLER_FAILED', message: (err as Error).message }
      record({ result: 'error', error })
      throw err
    }
    let started = false
    try {
      if (onBehalfOf !== null) throw new OutpostError('NOT_AUTHORISED', `core.${op}: onBehalf is honoured only from the uplink module (uplink.<n>), as "<role>:<user>"; ${callerName(onBehalfOf)} sent it`)
      authorise(caller, op)
      if (gw.modules.closed) throw new OutpostError('UNAVAILABLE', 'gateway stopping')
      preempt?.(args)
      const deadlineMs = Math.min(maxMs, call.timeout === undefined ? Infinity : Math.max(1, Math.floor(call.timeout * 0.9)))
      return await queues.run(module ?? '', op, deadlineMs, waitingFor(m, module ?? ''), async () => {
        started = true
        // the audit records what the operation did, even when its caller was answered TIMEOUT meanwhile
        try {
          if (gw.modules.closed) throw new OutpostError('UNAVAILABLE', 'gateway stopping')
          const result = await run(args, caller)
          record({ result: 'ok' })
          return result
        } catch (err) {
          return failed(err)
        }
      })
    } catch (err) {
      // refused, cancelled or timed out before it ran (what ran is audited above); a TIMEOUT of a running
      // operation is the caller's answer, not the operation's outcome
      if (!started) failed(err)
      throw err
    }
  }

  return {
    start: change('start', async args => {
      const { module } = parseArgs('start', moduleArgs, args)
      const runtime = gw.modules.require(module)
      const states = runtime.instances.map(i => i.state.status)
      if (states.includes('failed')) throw new OutpostError('CONFLICT', `module ${module} has failed; reset it to start it again (outpost reset ${module})`, { details: { states } })
      if (!states.some(s => s === 'stopped' || s === 'backoff')) throw new OutpostError('CONFLICT', `module ${module} is already ${describeState(runtime).state}`, { details: { states } })
      await gw.modules.start(module)
      return summary(runtime)
    }),

    stop: change('stop', async args => {
      const { module } = parseArgs('stop', moduleArgs, args)
      const runtime = gw.modules.require(module)
      await gw.modules.stop(module)
      return summary(runtime)
    }, args => {
      // A stop preempts: what is queued for the module is superseded (the operator wants it down), and the
      // instances stop now, which ends the wait of a start in progress instead of queueing behind it.
      const { module } = parseArgs('stop', moduleArgs, args)
      const runtime = gw.modules.require(module)
      if (runtime.instances.every(i => i.state.status === 'stopped')) throw new OutpostError('CONFLICT', `module ${module} is already stopped`)
      queues.cancel(new OutpostError('CONFLICT', `superseded by a stop of ${module}`), module)
      if (queues.running(module) !== undefined) gw.modules.stop(module).catch(() => {}) // the queued stop reports
    }),

    restart: change('restart', async args => {
      const { module } = parseArgs('restart', moduleArgs, args)
      const runtime = gw.modules.require(module)
      await gw.modules.stop(module)
      await gw.modules.start(module)
      return summary(runtime)
    }),

    reset: change('reset', async args => {
      const { module } = parseArgs('reset', moduleArgs, args)
      const runtime = gw.modules.require(module)
      const failed = runtime.instances.filter(i => i.state.status === 'failed')
      if (failed.length === 0) throw new OutpostError('CONFLICT', `module ${module} has not failed (it is ${describeState(runtime).state}); reset is for failed modules`)
      for (const instance of failed) instance.reset()
      await Promise.all(failed.map(instance => instance.whenSettled()))
      return summary(runtime)
    }),

    add: change('add', async args => {
      const { spec, start } = parseArgs('add', addArgs, args)
      if (gw.modules.get(spec.name) !== undefined) throw new OutpostError('CONFLICT', `a module named "${spec.name}" already exists`)
      gw.loaded = await m.store.change(doc => { doc.modules?.push(spec as RawModule) })
      const loaded = gw.loaded.modules.find(l => l.spec.name === spec.name)
      if (loaded === undefined) throw new OutpostError('NO_SUCH_MODULE', `module "${spec.name}" is not in the validated manifest`)
      const runtime = gw.modules.add(loaded)
      gw.bus.publishRetained(topics.state(spec.name), stateMessage(runtime))
      if (start ?? loaded.spec.enabled) await gw.modules.start(spec.name)
      return summary(runtime)
    }),

    remove: change('remove', async args => {
      const { module } = parseArgs('remove', moduleArgs, args)
      const instances = gw.modules.require(module).instances.length
      gw.loaded = await m.store.change(doc => { doc.modules = doc.modules?.filter(raw => raw.name !== module) })
      await gw.modules.remove(module)
      m.logs.drop(module)
      clearRetained(m, topics.state(module))
      for (let i = 0; i < instances; i++) clearRetained(m, topics.presence(module, i))
      return { module, removed: true }
    }),

    update: change('update', updateMethod(m), undefined, UPDATE_TIMEOUT_MS),

    configure: change('configure', async args => {
      const a = parseArgs('configure', configureArgs, args)
      const runtime = gw.modules.require(a.module)
      // a failed module was meant to run: a new config may be what it needed
      const wasUp = runtime.instances.some(i => i.state.status !== 'stopped')
      gw.loaded = await m.store.change(doc => {
        const raw = doc.modules?.find(r => r.name === a.module)
        if (raw === undefined) throw new OutpostError('NO_SUCH_MODULE', `module ${a.module} is not in ${m.store.file}`)
        if (a.config !== undefined) raw.config = mergePatch(raw.config ?? {}, a.config)
        if (a.memoryMiB === null) delete raw.memoryMiB
        else if (a.memoryMiB !== undefined) raw.memoryMiB = a.memoryMiB
        if (a.instances !== undefined) raw.instances = a.instances
        if (a.restart === null) delete raw.restart
        else if (a.restart !== undefined) raw.restart = mergePatch(raw.restart ?? {}, a.restart)
        if (a.enabled !== undefined) raw.enabled = a.enabled
      })
      return summary(await replaceModule(m, a.module, a.enabled ?? wasUp))
    }),
  }
}

/** who a caller is, as a refusal names it */
function callerName (caller: Caller): string {
  switch (caller.kind) {
    case 'module': return `module ${caller.clientId}`
    case 'operator': return `operator ${caller.user} (${caller.clientId})`
    case 'fleet': return `fleet operator ${caller.user} (${caller.clientId})`
    case 'anonymous': return `anonymous ${caller.role} client ${caller.clientId}`
  }
}

/**
 * The broker already refuses viewers' changes (access.ts); this second check stands on the same stamp, so a
 * request that reached core some other way (in-process, unstamped) changes nothing.
 */
function authorise (caller: Caller | null, op: string): void {
  if (caller === null) throw new OutpostError('NOT_AUTHORISED', `core.${op}: the request carries no caller identity from the broker`)
  if (caller.kind !== 'module' && caller.role !== 'admin') throw new OutpostError('NOT_AUTHORISED', `core.${op}: ${caller.kind === 'operator' ? `operator ${caller.user}` : 'this client'} is a ${caller.role} and may not change the gateway`)
}
