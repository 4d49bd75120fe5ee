// A linked pair of pseudo-terminals made by socat, standing in for a serial cable: what is written to one end
// is read at the other. Stopping socat is an unplug (SIGTERM removes the links, SIGKILL leaves them stale);
// restarting it on the same links is a replug, with new /dev/pts numbers behind them.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import path from 'node:path'

export interface PtyPair {
  /** the link of the first end (the device under test opens this one) */
  pathA: string
  /** the link of the second end (the simulated device opens this one) */
  pathB: string
  /** stops socat (SIGTERM by default) and waits for it to exit; does nothing when already stopped */
  stop (signal?: NodeJS.Signals): Promise<void>
  /** stops socat if it runs, then starts it again on the same links */
  restart (): Promise<void>
  /** freezes socat (SIGSTOP): nothing is carried either way, so a writer's buffers fill up like a device
   * holding off with flow control */
  pause (): void
  /** lets a paused socat go on (SIGCONT) */
  resume (): void
}

const READY = 'starting data transfer loop'
const START_TIMEOUT_MS = 5000
const STOP_TIMEOUT_MS = 5000

function waitForExit (child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
    }, timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

function startSocat (pathA: string, pathB: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${pathA}`, `pty,raw,echo=0,link=${pathB}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let stderr = ''
    const fail = (why: string): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`socat for ${pathA} <-> ${pathB} ${why}; stderr: ${stderr.trim()}`))
    }
    const timer = setTimeout(() => { fail(`did not report "${READY}" within ${START_TIMEOUT_MS} ms`) }, START_TIMEOUT_MS)
    child.once('error', err => { fail(`could not start (${err.message})`) })
    child.once('exit', (code, signal) => { fail(`exited early (code ${code}, signal ${signal})`) })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk
      if (!stderr.includes(READY)) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      child.removeAllListeners('error')
      child.on('error', () => {})
      // keep draining stderr so socat never blocks on a full pipe
      child.stderr?.removeAllListeners('data')
      child.stderr?.resume()
      resolve(child)
    })
  })
}

export async function startPtyPair (dir: string, names: { a?: string, b?: string } = {}): Promise<PtyPair> {
  const pathA = path.join(dir, names.a ?? 'ttyDUT')
  const pathB = path.join(dir, names.b ?? 'ttyDEV')
  let child: ChildProcess | undefined = await startSocat(pathA, pathB)

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined) return
    running.kill(signal)
    // a paused socat handles the signal only once it runs again
    running.kill('SIGCONT')
    await waitForExit(running, STOP_TIMEOUT_MS)
  }

  return {
    pathA,
    pathB,
    stop,
    async restart () {
      await stop()
      child = await startSocat(pathA, pathB)
    },
    pause () { child?.kill('SIGSTOP') },
    resume () { child?.kill('SIGCONT') },
  }
}
