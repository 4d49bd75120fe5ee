// The gateway: manifest → board → broker → core on the bus → modules. Stopping runs it backwards.
import { EventEmitter } from 'node:events'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { loadManifest } from './manifest/load.js'
import type { LoadedManifest, LoadedModule } from './manifest/load.js'
import { startBroker } from './broker/broker.js'
import type { Broker } from './broker/broker.js'
import { createCredentials, operatorCheck } from './broker/credentials.js'
import { createRpcRouter } from './broker/rpc-router.js'
import type { Identity } from './broker/access.js'
import { parseClientId } from './protocol/topics.js'
import { startCoreBus } from './bus.js'
import type { CoreBus } from './bus.js'
import { createCoreLog } from './log.js'
import type { CoreLog } from './log.js'
import { createModuleTable } from './modules/table.js'
import type { ModuleTable } from './modules/table.js'
import { moduleEnv } from './modules/env.js'
import type { ModuleProcess } from './modules/spawn.js'
import { prepareRuntimeDir, runtimeDirFor, writeRuntimeFile } from './runtime-dir.js'
import { describeState, stateMessage } from './modules/state.js'
import { decodeCbor } from './protocol/codec.js'
import type { Presence } from './protocol/envelope.js'
import { topics } from './protocol/topics.js'
import { resolveBoard } from './boards/resolve.js'
import { mergePolicy } from './supervisor/merge-policy.js'
import { DEFAULT_POLICY } from './supervisor/policy.js'
import { moduleNodeFlags } from './supervisor/v8-flags.js'
import { createKernelLimits } from './supervisor/kernel-limits.js'
import { clearLeftovers } from './supervisor/leftovers.js'
import type { CoreEvents, Extension, ExtensionFactory, GatewayContext } from './extension.js'
import { builtinExtensions } from './extensions.js'

export interface GatewayOptions {
  manifestFile: string
  log?: CoreLog
  /** overrides the manifest's runtime folder (tests use a temp dir) */
  runtimeDir?: string
  /** defaults to every built-in extension */
  extensions?: ExtensionFactory[]
  /**
   * aborting it stops the gateway, also during boot: what was started is stopped, and startGateway rejects
   * with the signal's reason
   */
  signal?: AbortSignal
}

export interface Gateway extends GatewayContext {
  stop (): Promise<void>
  /** the longest stop timeout among the modules' policies: how long stopping them may take */
  stopTimeoutMs (): number
}

export async function startGateway (options: GatewayOptions): Promise<Gateway> {
  const log = options.log ?? createCoreLog()
  const { signal } = options
  const loaded = await loadManifest(options.manifestFile, { log })
  signal?.throwIfAborted()
  const { manifest } = loaded
  const runtime = runtimeDirFor(manifest.gateway, options.runtimeDir ?? manifest.runtimeDir)
  prepareRuntimeDir(runtime, loaded.moduleGid)
  const runtimeDir = runtime.dir
  const simRoot = path.join(runtimeDir, 'sim')
  const gatewayBoard = resolveBoard(loaded.board, { simRoot })
  const boardFile = path.join(runtimeDir, 'board.json')
  writeRuntimeFile(boardFile, JSON.stringify(gatewayBoard, null, 2), loaded.moduleGid === undefined ? undefined : { group: true })

  // one group tree per core process: two gateways of one name (tests, a restart racing cleanup) never share
  const kernel = createKernelLimits(manifest.gateway, process.pid, log)
  const moduleSocket = path.join(runtimeDir, 'broker.sock')
  const leftovers = await clearLeftovers(moduleSocket, kernel)
  if (leftovers !== undefined) log.warn(leftovers)
  signal?.throwIfAborted()

  const credentials = createCredentials(operatorCheck(manifest.operators))
  const events = new EventEmitter<CoreEvents>()
  // the router and the broker need each other: the router answers through the broker it sits in
  let table: ModuleTable | undefined
  let send = (_topic: string, _payload: Buffer): void => {}
  let answersTo = (_caller: Identity, _reply: string): boolean => false
  const router = createRpcRouter({
    moduleStatus: name => (table?.get(name) === undefined ? undefined : describeState(table.require(name)).state),
    send: (topic, payload) => send(topic, payload),
    answersTo: (caller, reply) => answersTo(caller, reply),
  })
  const broker = await startBroker({
    moduleSocket,
    listeners: manifest.broker.listeners.map(l => (l.type === 'unix' ? { ...l, path: path.resolve(loaded.dir, l.path) } : l)),
    authenticator: credentials,
    drainTimeoutMs: manifest.broker.drainTimeoutMs,
    hooks: {
      onDenied: ({ clientId, action, what, why }) => log.warn(`denied ${action} ${what}`, { client: clientId, why }),
      onClientGone: (clientId, _identity, reason) => events.emit('client-gone', clientId, reason),
      recipient: router.recipient,
      replied: router.replied,
      onHookError: ({ hook, clientId, error }) => log.error(`broker hook ${hook} failed on a message from ${clientId}: the client was refused`, { error: error as Error }),
      onBacklog: event => log.warn(event.state === 'dropping'
        ? `${event.clientId} is not reading: dropping its messages (${event.unsentBytes} bytes unsent)`
        : event.state === 'recovered'
          ? `${event.clientId} caught up after ${event.dropped} dropped message(s); ${event.answered} dropped repl${event.answered === 1 ? 'y' : 'ies'} answered UNAVAILABLE`
          : `${event.clientId} did not catch up: disconnected after ${event.dropped} dropped message(s)`),
    },
  })
  answersTo = broker.answersTo
  send = (topic, payload) => broker.aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }, () => {})
  log.info(`broker listening: modules on ${broker.moduleUrl}${broker.listeners.map(l => `, ${l.url}`).join('')}`)
  const bus = await startCoreBus(broker, log)

  const MiB = 1024 * 1024
  // the modules' config files (secrets among them): removed once the modules are stopped
  const configFiles = new Set<string>()
  const modules = createModuleTable({
    policyOf: (module: LoadedModule) => mergePolicy(manifest.defaults.restart, module.spec.restart),
    onState: (runtime, instance, state) => {
      bus.publishRetained(topics.state(runtime.loaded.spec.name), stateMessage(runtime))
      events.emit('module-state', runtime, instance, state)
    },
    hooksFor: (runtime, instance) => {
      const name = runtime.loaded.spec.name
      return {
        prepare: () => {
          const { spec, entry, runAs } = runtime.loaded
          const credential = credentials.issue(name, instance, spec.calls === '*' ? '*' : new Set(spec.calls))
          const budget = spec.memoryMiB ?? manifest.defaults.memoryMiB
          // config travels in a file, never in the environment: a large one would make spawn fail (E2BIG)
          const configFile = path.join(runtimeDir, `${name}.config.json`)
          // a module under its own user is the only one that can read its config
          writeRuntimeFile(configFile, JSON.stringify(spec.config), runAs === undefined ? undefined : { owner: runAs })
          configFiles.add(configFile)
          return {
            entry,
            ...(runAs === undefined ? {} : { runAs }),
            nodeFlags: moduleNodeFlags(budget),
            output: { limits: manifest.defaults.logs, counters: log.lost(name) },
            prefix: kernel.prepare(`${name}.${instance}`, Math.round(budget * manifest.defaults.memory.kernelFactor * MiB)),
            secret: credential.password,
            env: moduleEnv({
              module: name,
              instance,
              brokerUrl: broker.moduleUrl,
              username: credential.username,
              keepaliveSeconds: manifest.defaults.keepaliveSeconds,
              configFile,
              boardFile,
              simRoot: gatewayBoard.simulated ? simRoot : undefined,
              traceSampleRate: (spec.tracing ?? manifest.tracing)?.sampleRate,
            }),
          }
        },
        onLine: (level, text) => log.record({ ts: Date.now(), source: name, instance, level, text }),
        onSpawned: child => {
          log.info(`started ${name}.${instance}`, { pid: child.pid })
          events.emit('module-spawned', runtime, instance, child)
        },
        classifyExit: () => (kernel.oomKilled(`${name}.${instance}`) ? 'oom' : undefined),
        cleanup: () => kernel.release(`${name}.${instance}`),
        onExit: (child, exit, reason) => {
          router.offline(`${name}.${instance}`, name, reason)
          events.emit('module-exit', runtime, instance, exit, reason)
          credentials.revoke(`${name}.${instance}`)
          const how = exit.signal === null ? `code ${exit.code}` : `signal ${exit.signal}`
          log[reason === 'stopped' || (exit.code === 0 && reason === 'exit-code') ? 'info' : 'warn'](`${name}.${instance} exited with ${how}`, { pid: child.pid, reason })
        },
        onState: state => log.debug(`${name}.${instance} is ${state.status}`),
      }
    },
  })
  table = modules
  for (const module of loaded.modules) modules.add(module)

  // Liveness: a module's event loop sends the MQTT keepalive; if the broker times the connection out while
  // the process still exists, the module is hung (busy loop, blocked on a device) and is killed.
  events.on('client-gone', (clientId, reason) => {
    router.callerGone(clientId)
    const id = parseClientId(clientId)
    if (id === null) return
    router.offline(clientId, id.module, reason)
    const instance = modules.get(id.module)?.instances[id.instance]
    if (instance?.process === undefined) return
    if (reason === 'keepalive-timeout') {
      log.warn(`${clientId} missed its keepalive: hung`, { pid: instance.process.pid })
      instance.condemn('hung')
    } else if (instance.state.status === 'running') {
      // Lost its connection but not its process (a client library whose network thread ended): it would
      // stay `running` and unreachable for good. The policy gives it a grace to reconnect, then restarts it.
      log.debug(`${clientId} lost its broker connection (${reason}) while its process lives`, { pid: instance.process.pid })
      instance.disconnected()
    }
  })

  // A module is running once it says ready on its presence topic, from the process the core started.
  const warnedWrapped = new WeakSet<ModuleProcess>() // the processes started whose ready came from another pid: warned once each
  await bus.subscribe('presence/+/+', (topic, payload) => {
    const [, name, instanceText] = topic.split('/')
    const instance = modules.get(name ?? '')?.instances[Number(instanceText)]
    if (instance === undefined) return
    let presence: Presence
    try {
      presence = decodeCbor(payload) as Presence
    } catch {
      log.warn(`malformed presence on ${topic}`)
      return
    }
    if (presence.state === 'ready' && presence.pid === instance.process?.pid) {
      instance.ready()
      router.online(`${name}.${instanceText}`, name ?? '')
    } else if (presence.state === 'ready' && instance.process !== undefined && !warnedWrapped.has(instance.process)) {
      // ignored all the same (the pid is what ties the connection to the process the core supervises), but
      // said: else the module dies of its ready timeout with nothing in the log to say why
      warnedWrapped.add(instance.process)
      log.warn(`${name}.${instanceText} said ready from pid ${String(presence.pid)}, not from pid ${instance.process.pid} that the core started: a wrapper script must exec the program (docs/protocol.md); its presence is ignored (if it is starting, it ends at its ready timeout)`)
    } else if (presence.state === 'offline') {
      router.offline(`${name}.${instanceText}`, name ?? '', 'offline')
      instance.disconnected()
    }
  })

  const ctx: GatewayContext = { manifestFile: loaded.file, loaded, board: gatewayBoard, runtimeDir, broker, router, bus, modules, credentials, log, events, usage: () => undefined }
  const started: Extension[] = []
  const stopExtensions = async (): Promise<void> => {
    for (const extension of started.reverse()) {
      try {
        await extension.stop()
      } catch (err) {
        log.error(`extension ${extension.name} failed to stop: ${(err as Error).message}`)
      }
    }
  }

  // From here on a stop (a signal during boot included) runs everything started so far backwards; the
  // module table is closed first, so nothing starts once it has begun.
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping modules')
      modules.close()
      events.emit('stopping')
      await modules.stopAll()
      for (const file of configFiles) rmSync(file, { force: true })
      await kernel.releaseAll()
      await stopExtensions()
      await bus.stop()
      router.stop()
      await broker.close()
      log.info('gateway stopped')
    })()
    return stopping
  }
  const onAbort = (): void => { void stop() }
  signal?.addEventListener('abort', onAbort, { once: true })

  try {
    for (const factory of options.extensions ?? builtinExtensions) {
      if (signal?.aborted === true) break
      const extension = factory(ctx)
      await extension.start()
      started.push(extension)
    }
  } catch (err) {
    signal?.removeEventListener('abort', onAbort)
    await stop()
    throw err
  }

  if (signal?.aborted !== true) {
    log.info(`gateway ${manifest.gateway} on board ${gatewayBoard.name}: starting ${loaded.modules.length} module(s)`)
    await modules.startAll()
  }
  if (signal?.aborted === true) {
    await stop()
    throw signal.reason
  }
  signal?.removeEventListener('abort', onAbort)
  const stopTimeoutMs = (): number => Math.max(DEFAULT_POLICY.stopTimeoutMs, ...modules.list().map(r => mergePolicy(manifest.defaults.restart, r.loaded.spec.restart).stopTimeoutMs))
  return Object.assign(ctx, { stop, stopTimeoutMs })
}
