// Benchmark 1: RPC round trip, module → module, with the real SDK in two module processes, against two
// baselines over Unix sockets: a raw length-prefixed echo between two Node processes (two hops), and the
// same echo through a Node process that relays the frames (four hops, as through a broker, with no MQTT
// work: the floor for any broker here). Rounds alternate between the paths so that drift in the machine's
// speed hits all of them alike; each figure is the median round.
import path from 'node:path'
import { encodeCbor } from '../core/protocol/codec.js'
import { moduleNodeFlags } from '../core/supervisor/v8-flags.js'
import type { Cleanup } from './lib/cleanup.js'
import type { LoopSpec } from './lib/loop.js'
import { startProc } from './lib/proc.js'
import type { Proc } from './lib/proc.js'
import { benchProgram, MODULE_BUDGET_MIB, npmStart } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'
import { inTurn, medianRun } from './lib/stats.js'
import type { LatencyRun } from './lib/stats.js'

export interface RpcSettings {
  /** unmeasured rounds first, so that every process's JIT has seen the path */
  warmupRounds: number
  rounds: number
  sequential: LoopSpec
  parallel: LoopSpec
}

export interface RpcPathResult {
  label: string
  /** the median round of each mode */
  sequential: LatencyRun
  parallel: LatencyRun
  /** every round's p50, in the order run, to show the spread */
  rounds: { sequentialP50Us: number[], parallelP50Us: number[], parallelCallsPerSec: number[] }
  /** every round's runs, in the order run */
  runs: { sequential: LatencyRun[], parallel: LatencyRun[] }
}

interface RpcPath {
  label: string
  run (spec: LoopSpec): Promise<LatencyRun>
}

/** the request the caller module sends, for sizing the raw baseline's frames alike */
export function requestBytes (): number {
  return encodeCbor({ id: 1000, reply: 'reply/bench-caller.0', timeout: 5000, from: 'bench-caller.0', args: { sensor: '28-00000a1b2c3d', celsius: 21.5, seq: 1 } }).length
}

export function sdkPath (stack: Stack): RpcPath {
  return {
    label: stack.label,
    run: spec => stack.control.call<LatencyRun>(stack.names.caller, 'run', { target: stack.names.echo, ...spec }, spec.maxMs + 10_000),
  }
}

/** A raw client process on `socket`: times frames the size of the caller module's requests. */
async function rawClient (label: string, name: string, socket: string, flags: string[], cleanup: Cleanup): Promise<RpcPath> {
  const client: Proc = startProc(name, [process.execPath, ...flags, benchProgram('raw/client.js'), socket], {}, cleanup)
  await client.waitLine(/^connected$/, 10_000)
  const bytes = requestBytes()
  return {
    label,
    async run (spec) {
      const line = client.waitLine(/^result /, spec.maxMs + 10_000, true)
      client.child.stdin?.write(`${JSON.stringify({ ...spec, bytes })}\n`)
      return JSON.parse((await line).slice('result '.length)) as LatencyRun
    },
  }
}

/**
 * The baselines: an echo server, a client straight to it (raw), and a client through a relay (relay
 * floor). The echo server and the clients run with the module processes' V8 flags, the relay with the
 * core's as `npm start` runs it.
 */
export async function rawPaths (dir: string, cleanup: Cleanup): Promise<{ raw: RpcPath, relay: RpcPath }> {
  const echoSocket = path.join(dir, 'raw-echo.sock')
  const relaySocket = path.join(dir, 'raw-relay.sock')
  const flags = moduleNodeFlags(MODULE_BUDGET_MIB)
  const server = startProc('raw echo server', [process.execPath, ...flags, benchProgram('raw/echo-server.js'), echoSocket], {}, cleanup)
  await server.waitLine(/^listening$/, 10_000)
  const relay = startProc('relay', [process.execPath, ...npmStart().flags, benchProgram('raw/relay.js'), relaySocket, echoSocket], { env: { ...process.env, ...npmStart().env } }, cleanup)
  await relay.waitLine(/^listening$/, 10_000)
  return {
    raw: await rawClient('raw Unix socket (length-prefixed echo)', 'raw echo client', echoSocket, flags, cleanup),
    relay: await rawClient('relay floor (the echo through a frame relay)', 'relay client', relaySocket, flags, cleanup),
  }
}

export async function runRpc (paths: RpcPath[], settings: RpcSettings, progress: (line: string) => void): Promise<RpcPathResult[]> {
  const sequential = new Map<string, LatencyRun[]>()
  const parallel = new Map<string, LatencyRun[]>()
  for (let round = 1 - settings.warmupRounds; round <= settings.rounds; round++) {
    for (const p of inTurn(paths, round)) {
      const seq = await p.run(settings.sequential)
      const par = await p.run(settings.parallel)
      const name = round < 1 ? 'warm-up' : `round ${round}/${settings.rounds}`
      progress(`rpc ${name} ${p.label}: sequential p50 ${seq.p50Us.toFixed(0)} µs, ${settings.parallel.inflight} in flight p50 ${par.p50Us.toFixed(0)} µs, ${par.callsPerSec.toFixed(0)} calls/s`)
      if (round < 1) continue
      sequential.set(p.label, [...(sequential.get(p.label) ?? []), seq])
      parallel.set(p.label, [...(parallel.get(p.label) ?? []), par])
    }
  }
  return paths.map(p => summarise(p.label, sequential.get(p.label) ?? [], parallel.get(p.label) ?? []))
}

function summarise (label: string, seq: LatencyRun[], par: LatencyRun[]): RpcPathResult {
  return {
    label,
    sequential: medianRun(seq),
    parallel: medianRun(par),
    rounds: { sequentialP50Us: seq.map(r => r.p50Us), parallelP50Us: par.map(r => r.p50Us), parallelCallsPerSec: par.map(r => r.callsPerSec) },
    runs: { sequential: seq, parallel: par },
  }
}

/** The rounds of several runs of the same paths (each run's results in the same order) as one result per path. */
export function mergeRpcResults (runs: RpcPathResult[][]): RpcPathResult[] {
  const [first] = runs
  if (first === undefined) throw new Error('no runs to merge')
  return first.map((p, i) => summarise(p.label, runs.flatMap(r => r[i]?.runs.sequential ?? []), runs.flatMap(r => r[i]?.runs.parallel ?? [])))
}
