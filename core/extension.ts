// Gateway features beyond the basics (management API, memory watch, RPC routing, …) are extensions in the
// Zigbee2MQTT sense: constructed with one context object, doing their work in start(), removing everything
// they added in stop(), and talking to the rest through the core bus and the events below.
import type { EventEmitter } from 'node:events'
import type { Broker } from './broker/broker.js'
import type { Credentials } from './broker/credentials.js'
import type { RpcRouter } from './broker/rpc-router.js'
import type { CoreBus } from './bus.js'
import type { CoreLog } from './log.js'
import type { LoadedManifest } from './manifest/load.js'
import type { ModuleTable, ModuleRuntime } from './modules/table.js'
import type { ExitInfo, ModuleProcess } from './modules/spawn.js'
import type { ModuleRunState, RecordedReason } from './supervisor/policy.js'
import type { Board } from './boards/schema.js'
import type { ModuleSample } from './supervisor/memory-sampler.js'

export interface CoreEvents {
  'module-state': [runtime: ModuleRuntime, instance: number, state: ModuleRunState]
  'module-spawned': [runtime: ModuleRuntime, instance: number, process: ModuleProcess]
  'module-exit': [runtime: ModuleRuntime, instance: number, exit: ExitInfo, reason: RecordedReason]
  'client-gone': [clientId: string, reason: 'disconnect' | 'keepalive-timeout' | 'error']
  /** the gateway has begun to stop: modules are being stopped, nothing starts any more */
  'stopping': []
  /** an extension asks the core to stop and exit 75, to be started again (an update switched releases) */
  'restart': [reason: string]
}

export interface GatewayContext {
  manifestFile: string
  /** the manifest in force; management replaces it when an operator changes the gateway */
  loaded: LoadedManifest
  board: Board
  runtimeDir: string
  broker: Broker
  /** the broker's RPC router: which instance holds which calls */
  router: Pick<RpcRouter, 'pendingOf' | 'pending' | 'stats' | 'refused'>
  bus: CoreBus
  modules: ModuleTable
  credentials: Credentials
  log: CoreLog
  events: EventEmitter<CoreEvents>
  /** latest memory and CPU figures of a module instance (`<module>.<instance>`), once the memory watch runs */
  usage: (clientId: string) => ModuleSample | undefined
}

export interface Extension {
  name: string
  start (): Promise<void> | void
  stop (): Promise<void> | void
}

export type ExtensionFactory = (ctx: GatewayContext) => Extension
