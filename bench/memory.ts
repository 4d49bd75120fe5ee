// Benchmark 3: memory. The core's private memory (USS) and RSS at rest and under the benchmark load, its RSS
// against a bare Aedes's, and the USS of one idle connected module against a bare `node` process with the
// same V8 flags, all in this run.
import { moduleNodeFlags } from '../core/supervisor/v8-flags.js'
import type { Cleanup } from './lib/cleanup.js'
import { startProc } from './lib/proc.js'
import { rssFileMiB, rssMiB, ussMiB } from './lib/procfs.js'
import { MODULE_BUDGET_MIB } from './lib/stacks.js'
import type { Stack } from './lib/stacks.js'

/** how long processes rest before the idle readings (V8 settles its heap after start-up) */
export const SETTLE_MS = 4000

export interface BareNode {
  withFlags: number
  withoutFlags: number
}

/** Two bare node processes doing nothing: one with a module's V8 flags, one without. Returns their pids. */
export async function startBareNodes (cleanup: Cleanup): Promise<BareNode> {
  const idle = ['-e', 'setInterval(() => {}, 60_000)']
  const withFlags = startProc('bare node (module flags)', [process.execPath, ...moduleNodeFlags(MODULE_BUDGET_MIB), ...idle], {}, cleanup)
  const withoutFlags = startProc('bare node', [process.execPath, ...idle], {}, cleanup)
  return { withFlags: withFlags.pid, withoutFlags: withoutFlags.pid }
}

/** one broker process at rest */
export interface BrokerMemory {
  rssMiB: number
  /** the part of the RSS that is file-backed: the node binary and shared libraries */
  rssFileMiB: number
  ussMiB: number
}

export function brokerMemory (stack: Stack): BrokerMemory {
  const { pid } = stack.broker
  return { rssMiB: rssMiB(pid), rssFileMiB: rssFileMiB(pid), ussMiB: ussMiB(pid) }
}

export interface IdleMemory {
  core: BrokerMemory
  moduleUssMiB: number
  bareUssMiB: number
  bareNoFlagsUssMiB: number
}

export function idleMemory (core: Stack, bare: BareNode): IdleMemory {
  const modulePid = core.pids[core.names.idle]
  if (modulePid === undefined) throw new Error(`${core.label} has no ${core.names.idle} module`)
  return {
    core: brokerMemory(core),
    moduleUssMiB: ussMiB(modulePid),
    bareUssMiB: ussMiB(bare.withFlags),
    bareNoFlagsUssMiB: ussMiB(bare.withoutFlags),
  }
}
