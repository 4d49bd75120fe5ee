// systemd, as far as an update needs it, for the update tests: runs <prefix>/opt/outpost/bin/outpost-boot as
// the unit's ExecStart does and starts it again when it exits with anything but 0 (Restart=on-failure,
// RestartForceExitStatus=75), until stopped. `crashAt` gives the cores OUTPOST_UPDATE_CRASH_AT until one of
// them is SIGKILLed there: a power cut at that step, once.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import path from 'node:path'

export interface Service {
  output (): string
  /** exit code or signal of each run so far */
  exits: string[]
  stop (): Promise<void>
}

export function startService (prefix: string, manifest: string, crashAt?: string): Service {
  const boot = path.join(prefix, 'opt', 'outpost', 'bin', 'outpost-boot')
  let output = ''
  let crash = crashAt
  let stopping = false
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const exits: string[] = []
  const startOne = (): void => {
    if (stopping) return
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
    if (crash !== undefined) env.OUTPOST_UPDATE_CRASH_AT = crash
    const run = spawn(boot, [manifest], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child = run
    run.stdout?.on('data', chunk => { output += String(chunk) })
    run.stderr?.on('data', chunk => { output += String(chunk) })
    exited = new Promise(resolve => run.once('exit', (code, signal) => {
      exits.push(signal ?? String(code))
      output += `--- [service] run ended: ${signal ?? `exit ${code}`}\n`
      if (signal === 'SIGKILL') crash = undefined
      if (!stopping && code !== 0) setTimeout(startOne, 100)
      resolve()
    }))
  }
  startOne()
  return {
    output: () => output,
    exits,
    async stop () {
      stopping = true
      child?.kill('SIGTERM')
      await exited
    },
  }
}
