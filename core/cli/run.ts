// `outpost run [manifest]`: runs a gateway in the foreground until SIGINT/SIGTERM (also during boot), then
// stops every module in order and exits 0. A bad manifest starts nothing and exits 2 with the problems listed.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { startGateway } from '../gateway.js'
import type { Gateway } from '../gateway.js'
import { createCoreLog } from '../log.js'
import { defaultManifest } from '../paths.js'
import { prepareRuntimeDir, runtimeDirFor, writeRuntimeFile } from '../runtime-dir.js'
import { DEFAULT_POLICY } from '../supervisor/policy.js'
import { systemdNotifier } from '../systemd.js'
import { RESTART_EXIT_CODE } from '../update/install.js'

/**
 * The demo runs from a fresh copy of the embedded default manifest, so management changes made while it
 * runs (which are written to the manifest) never touch the installed file, and every start is the same demo.
 */
function demoManifest (): string {
  // a folder of the core's own, as the runtime folder is: a shared /tmp/outpost-demo could be anyone's
  const where = runtimeDirFor('demo-manifest', undefined)
  prepareRuntimeDir(where)
  const file = path.join(where.dir, 'gateway.json')
  writeRuntimeFile(file, readFileSync(defaultManifest, 'utf8'))
  return file
}

/** past the modules' stop timeout, what the core may spend removing cgroups and closing the broker */
const STOP_MARGIN_MS = 5000
/** how long the last log lines may take to reach a slow reader of our output */
const LAST_WRITE_MS = 2000

/**
 * Ends the core by process.exit once its output is written. An exit by an empty event loop first closes the
 * signal handlers, which gives SIGINT back its default action: the second SIGINT of a Ctrl-C under npm (npm
 * forwards the terminal's) landing in that window killed a core that had stopped cleanly.
 */
async function exitOnceWritten (code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map(stream => stream.writableLength === 0
    ? undefined
    : new Promise(resolve => {
      stream.once('drain', resolve)
      stream.once('error', resolve)
      setTimeout(resolve, LAST_WRITE_MS).unref()
    })))
  process.exit(code)
}

export async function run (args: string[]): Promise<number> {
  return await exitOnceWritten(await runGateway(args))
}

async function runGateway (args: string[]): Promise<number> {
  const log = createCoreLog({ level: process.env.OUTPOST_LOG_LEVEL === 'debug' ? 'debug' : 'info' })
  // Signals are handled from the first line: a stop during boot (a module that never becomes ready holds
  // startGateway) aborts the boot and stops what was started. One stop, however many signals ask for it:
  // a terminal's Ctrl-C reaches `npm start` too, which forwards it, so the core gets SIGINT twice at once.
  const abort = new AbortController()
  let gateway: Gateway | undefined
  let stopped = false
  // an update switched releases (or rolled one back): the core stops as for a signal and exits 75, for
  // outpost-boot to start it again
  let restart = false
  const stopFor = (why: string): void => {
    if (abort.signal.aborted) return log.debug(`${why}: already stopping`)
    log.info(why)
    abort.abort(new Error(why))
    // the core exits within its stop timeout whatever holds it: its modules die with it (parent-death
    // signal) and the next core clears their cgroups
    const deadlineMs = (gateway?.stopTimeoutMs() ?? DEFAULT_POLICY.stopTimeoutMs) + STOP_MARGIN_MS
    setTimeout(() => {
      if (!stopped) log.error(`still stopping ${deadlineMs} ms after ${why}: exiting now`)
      process.exit(restart ? RESTART_EXIT_CODE : stopped ? 0 : 1)
    }, deadlineMs).unref()
  }
  const onSignal = (signal: NodeJS.Signals): void => stopFor(`${signal} received`)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const manifestFile = args[0] ?? demoManifest()
  if (args[0] === undefined) log.info(`no manifest given: running the demo from ${manifestFile}, a copy of ${defaultManifest}`)
  try {
    gateway = await startGateway({ manifestFile, log, signal: abort.signal })
  } catch (err) {
    if (abort.signal.aborted) {
      stopped = true
      return 0
    }
    if (err instanceof OutpostError) {
      process.stderr.write(`outpost: ${err.message}\n`)
      return err.code.startsWith('MANIFEST') || err.code.startsWith('BOARD') || err.code.startsWith('RESOURCE') || err.code === 'BUDGET_EXCEEDS_BOARD' ? 2 : 1
    }
    throw err
  }
  gateway.events.once('restart', reason => {
    restart = !abort.signal.aborted
    stopFor(`restarting: ${reason}`)
  })
  const service = systemdNotifier(process.env, log)
  service?.ready(`gateway ${gateway.loaded.manifest.gateway}: ${gateway.modules.list().length} module(s)`)
  if (!abort.signal.aborted) await new Promise(resolve => abort.signal.addEventListener('abort', resolve, { once: true }))
  service?.stopping()
  await gateway.stop()
  stopped = true
  return restart ? RESTART_EXIT_CODE : 0
}
