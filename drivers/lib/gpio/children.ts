// The gpiod tools this process runs: one-shot commands, and long-running children that hold a line
// (gpioset, gpiomon). A held line must not outlive its driver, or a restarted driver finds it busy and a
// relay stays energised. So held children get a parent-death signal (util-linux `setpriv --pdeathsig`,
// covering SIGKILL and OOM kills of the driver), run in the driver's process group (the supervisor signals
// the group), and are ended when this process exits normally.
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { OutpostError } from '../../../core/errors.js'
import { onPath } from '../../../core/modules/parent-death.js'

const STOP_GRACE_MS = 2000
const PIPE_GRACE_MS = 200

// Process-wide by nature: these are this process's own children, ended when it exits.
const live = new Set<ChildProcess>()
let setpriv: boolean | undefined

function endAll (): void {
  for (const child of live) child.kill('SIGTERM')
}

function describeFailure (file: string, err: { code?: string | number | null, message: string } | null, stderr: string): string {
  if (err?.code === 'ENOENT') return `${file} not found: install the gpiod tools (Debian/Raspberry Pi OS: apt install gpiod)`
  const said = stderr.trim().split('\n').slice(-3).join(' / ')
  return `${file} failed${said === '' ? `: ${err?.message ?? 'unknown error'}` : `: ${said}`}`
}

/** Runs a command to completion; its standard output, or GPIO_BACKEND naming the command and its complaint. */
export function run (file: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout)
      else reject(new OutpostError('GPIO_BACKEND', describeFailure(`${file} ${args.join(' ')}`, err, stderr), { details: { file, args, stderr }, cause: err }))
    })
  })
}

export interface Held {
  readonly pid: number | undefined
  /** settles when the child has exited, for whatever reason */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** the last lines the child wrote to stderr, for error messages */
  stderr (): string
  /** SIGTERM, then SIGKILL after a grace period; resolves once the child is gone */
  stop (): Promise<void>
}

/** Starts a long-running child, calling back with each line of its standard output. */
export function spawnHeld (file: string, args: string[], onLine: (line: string) => void): Held {
  setpriv ??= onPath('setpriv')
  const argv = setpriv ? ['setpriv', '--pdeathsig', 'TERM', '--', file, ...args] : [file, ...args]
  const child = spawn(argv[0] ?? file, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  if (live.size === 0) process.once('exit', endAll)
  live.add(child)
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2000) })
  if (child.stdout !== null) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine)
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    let grace: NodeJS.Timeout | undefined
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(grace)
      if (!live.delete(child)) return
      if (live.size === 0) process.removeListener('exit', endAll)
      resolve({ code, signal })
    }
    child.once('error', err => {
      stderr += describeFailure(file, err, '')
      done(127, null)
    })
    // 'close' comes once the pipes are drained, so the last words on stderr are kept; a grandchild that
    // inherited the pipes must not hold them (and this process) open, hence the grace period
    child.once('exit', () => {
      grace = setTimeout(() => {
        child.stdout?.destroy()
        child.stderr?.destroy()
      }, PIPE_GRACE_MS)
    })
    child.once('close', done)
  })
  return {
    pid: child.pid,
    exited,
    stderr: () => stderr.trim(),
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      await exited
      clearTimeout(timer)
    },
  }
}
