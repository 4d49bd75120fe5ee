// Child processes for the benchmarks: each in its own process group (so a stop reaches whatever it forked),
// its output kept in a short ring for error messages, and its stop registered with the cleanup.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'
import type { Cleanup } from './cleanup.js'

export interface Proc {
  name: string
  pid: number
  child: ChildProcess
  exited: Promise<void>
  /** resolves with the first line (stdout or stderr) matching, rejects on exit or timeout; `fresh` skips lines already printed */
  waitLine (pattern: RegExp, timeoutMs: number, fresh?: boolean): Promise<string>
  /** the last lines of output, for error messages */
  tail (): string
  /** SIGTERM to the group, SIGKILL after graceMs */
  stop (graceMs?: number): Promise<void>
}

const TAIL_LINES = 30

export function killGroup (pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is gone already
  }
}

/** `secret`: written on the process's fd 3 and closed, as the core hands a module its password (docs/protocol.md) */
export function startProc (name: string, argv: string[], options: { env?: NodeJS.ProcessEnv, cwd?: string, secret?: string }, cleanup: Cleanup): Proc {
  const [file, ...args] = argv
  const child = spawn(file ?? '', args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe', options.secret === undefined ? 'ignore' : 'pipe'], detached: true })
  const credential = child.stdio[3] as Writable | null
  credential?.on('error', () => {})
  credential?.end(options.secret)
  const lines: string[] = []
  const watchers = new Set<(line: string) => void>()
  const onLine = (line: string): void => {
    lines.push(line)
    if (lines.length > TAIL_LINES) lines.shift()
    for (const watch of watchers) watch(line)
  }
  for (const stream of [child.stdout, child.stderr]) {
    if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine)
  }
  let done = false
  const exited = new Promise<void>(resolve => {
    child.once('error', err => {
      onLine(`cannot start ${file}: ${err.message}`)
      done = true
      resolve()
    })
    child.once('exit', () => {
      done = true
      resolve()
    })
  })
  const pid = child.pid ?? -1
  const proc: Proc = {
    name,
    pid,
    child,
    exited,
    tail: () => lines.join('\n'),
    waitLine (pattern, timeoutMs, fresh = false) {
      return new Promise((resolve, reject) => {
        const finish = (err: Error | null, line?: string): void => {
          clearTimeout(timer)
          watchers.delete(watch)
          if (err === null) resolve(line ?? '')
          else reject(err)
        }
        const watch = (line: string): void => { if (pattern.test(line)) finish(null, line) }
        const timer = setTimeout(() => finish(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms; output:\n${proc.tail()}`)), timeoutMs)
        watchers.add(watch)
        if (!fresh) for (const line of lines) if (pattern.test(line)) return finish(null, line)
        exited.then(() => finish(new Error(`${name} exited before printing ${pattern}; output:\n${proc.tail()}`)), () => {})
      })
    },
    async stop (graceMs = 5000) {
      if (done || pid < 0) return
      killGroup(pid, 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise(resolve => { timer = setTimeout(resolve, graceMs) })])
      clearTimeout(timer)
      // the leader may be gone while processes it forked (own groups included) linger: kill the group anyway
      killGroup(pid, 'SIGKILL')
      await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 1000))])
    },
  }
  cleanup.add(`stop ${name} (pid ${pid})`, () => proc.stop())
  return proc
}
