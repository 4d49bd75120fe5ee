// The retained `state/<module>` document: what an operator (or `outpost ls`) sees of a module.
import { epochMs } from '../protocol/codec.js'
import type { ModuleRuntime } from './table.js'

export interface InstanceStateDoc {
  instance: number
  state: string
  pid: number | null
  since: number
  restarts: number
  lastExit: { at: number, code: number | null, signal: string | null, reason: string } | null
}

export interface ModuleStateDoc {
  module: string
  /** the worst instance state, so one failed replica shows */
  state: string
  instances: InstanceStateDoc[]
}

const SEVERITY = ['running', 'starting', 'stopping', 'backoff', 'stopped', 'failed']

/**
 * The document as published on `state/<module>`: its times (`since`, `lastExit.at`) as bigints, so that they
 * travel as CBOR integers like every number of the protocol's own fields (cbor-x writes a number beyond 32
 * bits as a float64).
 */
export function stateMessage (runtime: ModuleRuntime): unknown {
  const doc = describeState(runtime)
  return {
    ...doc,
    instances: doc.instances.map(i => ({
      ...i,
      since: epochMs(i.since),
      lastExit: i.lastExit === null ? null : { ...i.lastExit, at: epochMs(i.lastExit.at) },
    })),
  }
}

export function describeState (runtime: ModuleRuntime): ModuleStateDoc {
  const instances = runtime.instances.map(i => {
    const s = i.state
    const last = s.exits.at(-1)
    return {
      instance: i.instance,
      state: s.status,
      pid: i.process?.pid ?? null,
      since: s.since,
      restarts: s.restarts,
      lastExit: last === undefined ? null : { at: last.at, code: last.code, signal: last.signal, reason: last.reason },
    }
  })
  const state = instances.reduce((worst, i) => (SEVERITY.indexOf(i.state) > SEVERITY.indexOf(worst) ? i.state : worst), 'running')
  return { module: runtime.loaded.spec.name, state: instances.length === 0 ? 'stopped' : state, instances }
}
