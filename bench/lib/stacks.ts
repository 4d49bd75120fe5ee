// The systems under test, each a broker with the benchmark modules connected: the Outpost core started the
// way `npm start` starts it (its own process, modules spawned and supervised by it), or Mosquitto or a bare
// Aedes with the same module programs spawned by the benchmark with the environment and V8 flags the core
// would give them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { installRoot } from '../../core/paths.js'
import { npmStart as npmStartOf } from '../../release/npm-start.js'
import type { CoreLaunch } from '../../release/npm-start.js'
import { moduleNodeFlags } from '../../core/supervisor/v8-flags.js'
import type { Cleanup } from './cleanup.js'
import { connectControl } from './control.js'
import type { Control } from './control.js'
import { killGroup, startProc } from './proc.js'
import type { Proc } from './proc.js'

export interface BenchModule {
  name: string
  /** compiled program under build/bench/modules/ */
  program: string
  config: Record<string, unknown>
}

/** every module gets the manifest's default budget, so the same V8 flags on both brokers */
export const MODULE_BUDGET_MIB = 64
const START_TIMEOUT_MS = 20_000

/** a compiled benchmark program (build/bench/<name>) of this checkout, or of the install root given */
export function benchProgram (name: string, root = installRoot): string {
  return path.join(root, 'build', 'bench', name)
}

/**
 * The benchmark modules' names on one broker. Two cores running at once must not use the same names: the
 * core names a module's memory cgroup after it (<root>/outpost/<module>.<instance>), so same-named
 * modules of two gateways on one machine would share one group and its limit.
 */
export interface BenchNames {
  echo: string
  caller: string
  pub: string
  sub: string
  idle: string
}

export function benchNames (suffix: string): BenchNames {
  return { echo: `bench-echo${suffix}`, caller: `bench-caller${suffix}`, pub: `bench-pub${suffix}`, sub: `bench-sub${suffix}`, idle: `bench-idle${suffix}` }
}

/** the subscriber reports its count this often; the publisher stays within its window of it */
export const PROGRESS_EVERY = 250
export const MESSAGE_BYTES = 64

/** Every benchmark module: RPC echo and caller, hook publisher and subscriber, and one that only idles. */
export function benchModules (names: BenchNames): BenchModule[] {
  return [
    { name: names.echo, program: 'modules/echo.js', config: {} },
    { name: names.caller, program: 'modules/caller.js', config: {} },
    { name: names.pub, program: 'modules/publisher.js', config: { subscriber: names.sub, messageBytes: MESSAGE_BYTES } },
    { name: names.sub, program: 'modules/subscriber.js', config: { publisher: names.pub, every: PROGRESS_EVERY } },
    { name: names.idle, program: 'modules/idle.js', config: {} },
  ]
}

export interface Stack {
  label: string
  names: BenchNames
  /** the broker process (the core, or mosquitto) */
  broker: Proc
  /** where the modules and the control connection reach it */
  url: string
  control: Control
  /** pid of each module process */
  pids: Record<string, number>
}

export type { CoreLaunch }

export function npmStart (root = installRoot): CoreLaunch {
  return npmStartOf(root)
}

/** A module the benchmark adds beside its own (the soak's misbehaving neighbours), as a manifest entry. */
export interface ExtraModule {
  name: string
  program: string
  memoryMiB: number
  restart?: Record<string, unknown>
  config?: Record<string, unknown>
}

export interface CoreOptions {
  /** the install root whose build/ runs: this checkout, or a baseline commit built by before.ts */
  root?: string
  extra?: ExtraModule[]
  /** these benchmark modules alone (all when absent): e.g. the RPC echo and caller (bench/tracing.ts) */
  only?: Array<keyof BenchNames>
  /** more top-level manifest keys (e.g. `tracing`) and module entries as the manifest writes them */
  manifest?: Record<string, unknown>
  entries?: Array<Record<string, unknown>>
  /** the manifest's `uplink` section (bench/uplink.ts) */
  uplink?: Record<string, unknown>
}

/** the benchmark modules a broker runs: `only` these, or all */
function modulesOf (names: BenchNames, only: Array<keyof BenchNames> | undefined): BenchModule[] {
  const all = benchModules(names)
  return only === undefined ? all : all.filter(m => only.some(role => names[role] === m.name))
}

export async function startCore (label: string, dir: string, launch: CoreLaunch, names: BenchNames, cleanup: Cleanup, options: CoreOptions = {}): Promise<Stack> {
  const root = options.root ?? installRoot
  const modules = modulesOf(names, options.only)
  mkdirSync(dir, { recursive: true })
  const control = path.join(dir, 'control.sock')
  const manifestFile = path.join(dir, 'gateway.json')
  writeFileSync(manifestFile, JSON.stringify({
    gateway: 'bench',
    board: 'sim',
    runtimeDir: path.join(dir, 'run'),
    broker: { listeners: [{ type: 'unix', path: control, anonymous: true }] },
    defaults: { memoryMiB: MODULE_BUDGET_MIB },
    modules: [
      ...modules.map(m => ({ name: m.name, entry: benchProgram(m.program, root), config: m.config })),
      ...(options.extra ?? []).map(m => ({ name: m.name, entry: benchProgram(m.program, root), memoryMiB: m.memoryMiB, ...(m.restart === undefined ? {} : { restart: m.restart }), ...(m.config === undefined ? {} : { config: m.config }) })),
      ...(options.entries ?? []),
    ],
    ...options.manifest,
    ...(options.uplink === undefined ? {} : { uplink: options.uplink }),
  }, null, 2))
  const broker = startProc(`core (${label})`, [process.execPath, ...launch.flags, path.join(root, 'build/core/cli/main.js'), 'run', manifestFile], { cwd: root, env: { ...process.env, ...launch.env } }, cleanup)
  await broker.waitLine(/broker listening/, START_TIMEOUT_MS)
  return connectStack(label, broker, `unix:${control}`, names, cleanup, modules)
}

async function connectStack (label: string, broker: Proc, url: string, names: BenchNames, cleanup: Cleanup, modules = benchModules(names)): Promise<Stack> {
  const control = await connectControl(url, `bench-control-${process.pid}`)
  cleanup.add(`control connection to ${label}`, () => control.end())
  const pids = await control.ready(modules.map(m => m.name), START_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${label}: ${err.message}; broker output:\n${broker.tail()}`)
  })
  // the core stops its modules itself; this catches any it could not stop before it was killed
  cleanup.add(`module processes of ${label}`, () => { for (const pid of Object.values(pids)) killGroup(pid, 'SIGKILL') })
  return { label, names, broker, url, control, pids }
}

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export const MOSQUITTO = '/usr/sbin/mosquitto'

/** Mosquitto as a fleet's upstream on `port`: anonymous on loopback, no persistence, no queue limit */
export async function startUpstreamMosquitto (label: string, dir: string, port: number, cleanup: Cleanup): Promise<Proc> {
  const conf = path.join(dir, `upstream-${port}.conf`)
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'log_dest stderr', 'log_type error', ''].join('\n'))
  const proc = startProc(label, [MOSQUITTO, '-c', conf], {}, cleanup)
  await waitConnectable(port, 10_000, proc)
  return proc
}

/** Mosquitto on a free loopback port with anonymous access, the module programs connected to it over TCP. */
export async function startMosquitto (label: string, dir: string, names: BenchNames, cleanup: Cleanup): Promise<Stack> {
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const config = path.join(dir, 'mosquitto.conf')
  writeFileSync(config, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', ''].join('\n'))
  const broker = startProc(label, [MOSQUITTO, '-c', config], {}, cleanup)
  await waitConnectable(port, START_TIMEOUT_MS, broker)
  return startModulesOn(label, broker, `mqtt://127.0.0.1:${port}`, dir, names, cleanup)
}

/**
 * Aedes with its defaults and nothing of the core (bench/raw/aedes-broker.ts), run as `npm start` runs the
 * core (its node flags and environment), the module programs connected to it over a Unix socket as they are to the core.
 */
export async function startBareAedes (label: string, dir: string, names: BenchNames, cleanup: Cleanup): Promise<Stack> {
  mkdirSync(dir, { recursive: true })
  const socket = path.join(dir, 'aedes.sock')
  const { env, flags } = npmStart()
  const broker = startProc(label, [process.execPath, ...flags, benchProgram('raw/aedes-broker.js'), socket], { env: { ...process.env, ...env } }, cleanup)
  await broker.waitLine(/^listening$/, START_TIMEOUT_MS)
  return startModulesOn(label, broker, `unix:${socket}`, dir, names, cleanup)
}

/** The benchmark's module programs started by the benchmark itself, with the environment and V8 flags the core would give them. */
export async function startModulesOn (label: string, broker: Proc, url: string, dir: string, names: BenchNames, cleanup: Cleanup, only?: Array<keyof BenchNames>): Promise<Stack> {
  const modules = modulesOf(names, only)
  mkdirSync(dir, { recursive: true })
  for (const m of modules) {
    const configFile = path.join(dir, `${m.name}.config.json`)
    writeFileSync(configFile, JSON.stringify(m.config))
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      OUTPOST_MODULE: m.name,
      OUTPOST_INSTANCE: '0',
      OUTPOST_BROKER: url,
      OUTPOST_USERNAME: `${m.name}.0`,
      OUTPOST_CREDENTIAL_FD: '3',
      OUTPOST_KEEPALIVE: '5',
      OUTPOST_CONFIG_FILE: configFile,
    }
    // neither bare broker checks passwords, but the SDK reads one on fd 3, as from the core
    startProc(`${m.name} on ${label}`, [process.execPath, ...moduleNodeFlags(MODULE_BUDGET_MIB), benchProgram(m.program)], { env, secret: 'bare' }, cleanup)
  }
  return connectStack(label, broker, url, names, cleanup, modules)
}

export async function waitConnectable (port: number, timeoutMs: number, broker: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${broker.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms; output:\n${broker.tail()}`)
}
