// Starting one module process. Each runs in its own process group, so a terminal's Ctrl-C reaches only the
// core (which then stops modules in order) and a stop signal reaches every process a module forked; and
// each gets a parent-death signal, so it dies with its core even when the core is killed (parent-death.ts).
// Its password goes down a pipe on fd 3 (stdio[3]), written and closed at once: an environment can be read by any process
// of the same user for the module's whole life (/proc/<pid>/environ), a pipe's bytes only by who reads them.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import type { Writable } from 'node:stream'
import type { ResolvedEntry } from './entry.js'
import { CREDENTIAL_FD } from './env.js'
import { readOutput } from './output.js'
import type { LineHandler, OutputCounters, OutputLimits } from './output.js'
import { setprivPrefix } from './parent-death.js'
import type { RunAs } from '../manifest/users.js'

export interface SpawnRequest {
  entry: ResolvedEntry
  env: Record<string, string>
  /** the process's broker password, written on its fd 3 (docs/protocol.md, "Start") */
  secret: string
  /** V8 and node flags, for node entries */
  nodeFlags: string[]
  /** the user the process runs as, when not the core's own */
  runAs?: RunAs
  /** argv prefix run before the program (e.g. one that joins a cgroup and execs the rest) */
  prefix?: string[]
  /** bounds on what the core reads of the process's stdout and stderr, and where it counts what it dropped */
  output: { limits: OutputLimits, counters: OutputCounters }
}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ModuleProcess {
  pid: number
  /** absent when the process could not be started at all */
  child?: ChildProcess
  exited: Promise<ExitInfo>
  /** signals the whole process group */
  signal (signal: NodeJS.Signals): void
  /** kills whatever is left of the process group once the module itself has exited (forked workers) */
  reap (): void
}

export type { LineHandler } from './output.js'

/** A process that never ran: it "exits" with 127 (the shell's "cannot execute") on the next turn. */
function notStarted (why: string, onLine: LineHandler): ModuleProcess {
  onLine('error', why)
  return {
    pid: -1,
    exited: new Promise(resolve => setImmediate(() => resolve({ code: 127, signal: null }))),
    signal () {},
    reap () {},
  }
}

export function spawnModule (request: SpawnRequest, onLine: LineHandler): ModuleProcess {
  const program = request.entry.script !== undefined
    ? [process.execPath, ...request.nodeFlags, request.entry.script]
    : request.entry.command ?? []
  // the cgroup prefix joins the group first, as the core's user; setpriv then changes user and sets the
  // parent-death signal on the process that execs the program
  const argv = [...(request.prefix ?? []), ...setprivPrefix(request.runAs), ...program]
  const [file, ...args] = argv
  let child: ChildProcess
  try {
    child = spawn(file ?? '', args, {
      cwd: request.entry.cwd,
      env: request.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    })
  } catch (err) {
    // node throws at once for some failures (E2BIG: arguments too long), where others come as 'error':
    // both end as an exit that the supervisor counts, never as an instance left in `starting`
    return notStarted(`cannot start ${file}: ${(err as Error).message}`, onLine)
  }
  readOutput(child, request.output.limits, request.output.counters, onLine)
  const credential = child.stdio[CREDENTIAL_FD] as Writable | null
  // a process that exits without reading it makes the write fail (EPIPE): nothing to do about that
  credential?.on('error', () => {})
  credential?.end(request.secret)
  const exited = new Promise<ExitInfo>(resolve => {
    child.once('error', err => {
      onLine('error', `cannot start ${file}: ${err.message}`)
      resolve({ code: 127, signal: null })
    })
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return {
    pid: child.pid ?? -1,
    child,
    exited,
    signal (signal) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      try {
        process.kill(-child.pid, signal)
      } catch {
        // the group is already gone
      }
    },
    reap () {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // nothing left
      }
    },
  }
}
