// Readiness and watchdog for systemd (deploy/outpost.service, docs/deploy.md). Node has no Unix datagram
// sockets, so the core runs systemd's own `systemd-notify`: it waits until systemd has read each message
// (a barrier, systemd ≥ 246), which is what lets the unit's NotifyAccess=all attribute a message from a
// short-lived child to the service. Outside systemd (no NOTIFY_SOCKET) nothing is sent.
import { execFile } from 'node:child_process'
import type { CoreLog } from './log.js'

export interface ServiceNotifier {
  /** READY=1, and from then on WATCHDOG=1 every half of WATCHDOG_USEC while the event loop runs */
  ready (status: string): void
  /** STOPPING=1, and the watchdog pings end */
  stopping (): void
}

const NOTIFY_TIMEOUT_MS = 10_000

export function systemdNotifier (env: NodeJS.ProcessEnv, log: Pick<CoreLog, 'warn'>): ServiceNotifier | undefined {
  if (env.NOTIFY_SOCKET === undefined || env.NOTIFY_SOCKET === '') return undefined
  const send = (...args: string[]): void => {
    execFile('systemd-notify', args, { timeout: NOTIFY_TIMEOUT_MS }, err => {
      if (err !== null) log.warn(`systemd-notify ${args.join(' ')} failed: ${err.message}`)
    })
  }
  // WATCHDOG_PID, when set, names the process systemd expects the pings from
  const usec = Number(env.WATCHDOG_USEC)
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid
  let timer: NodeJS.Timeout | undefined
  return {
    ready (status) {
      send('--ready', `--status=${status}`)
      if (timer === undefined && Number.isFinite(usec) && usec > 0 && forUs) {
        timer = setInterval(() => send('WATCHDOG=1'), Math.max(500, Math.floor(usec / 2000)))
        timer.unref()
      }
    },
    stopping () {
      clearInterval(timer)
      send('STOPPING=1')
    },
  }
}
