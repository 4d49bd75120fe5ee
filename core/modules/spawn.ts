// Starting one module process. Each runs in its own process group, so a terminal's Ctrl-C reaches only the
// core (which then stops modules in order) and a stop signal reaches every process a module forked; and
// each gets a parent-death signal, so it dies with its core even when the core is killed (parent-death.ts).
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { LogLevel } from '../sdk/log.js'
import type { ResolvedEntry } from './entry.js'
import { parentDeathPrefix } from './parent-death.js'

export interface SpawnRequest {
  entry: ResolvedEntry
  env: Record<string, string>
  /** V8 and node flags, for node entries */
  nodeFlags: string[]
  /** argv prefix run before the program (e.g. one that joins a cgroup and execs the rest) */
  prefix?: string[]
}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ModuleProcess {
  pid: number
  child: ChildProcess
  exited: Promise<ExitInfo>
  /** signals the whole process group */
  signal (signal: NodeJS.Signals): void
  /** kills whatever is left of the process group once the module itself has exited (forked workers) */
  reap (): void
}

export type LineHandler = (level: LogLevel, text: string) => void

const PRIORITY = /^<([0-7])>/

export function levelOf (priority: number): LogLevel {
  if (priority <= 3) return 'error'
  if (priority === 4) return 'warn'
  if (priority <= 6) return 'info'
  return 'debug'
}

function forwardLines (stream: NodeJS.ReadableStream | null, fallback: LogLevel, onLine: LineHandler): void {
  if (stream === null) return
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  lines.on('line', (line: string) => {
    const match = PRIORITY.exec(line)
    if (match === null) onLine(fallback, line)
    else onLine(levelOf(Number(match[1])), line.slice(match[0].length))
  })
}

export function spawnModule (request: SpawnRequest, onLine: LineHandler): ModuleProcess {
  const program = request.entry.script !== undefined
    ? [process.execPath, ...request.nodeFlags, request.entry.script]
    : request.entry.command ?? []
  // the cgroup prefix joins the group first; the parent-death signal is set last, on the process that execs the program
  const argv = [...(request.prefix ?? []), ...parentDeathPrefix(), ...program]
  const [file, ...args] = argv
  const child = spawn(file ?? '', args, {
    cwd: request.entry.cwd,
    env: request.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  forwardLines(child.stdout, 'info', onLine)
  forwardLines(child.stderr, 'error', onLine)
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
