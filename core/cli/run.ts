// `outpost run [manifest]`: runs a gateway in the foreground until SIGINT/SIGTERM, then stops every module
// in order and exits 0. A bad manifest starts nothing and exits 2 with the problems listed.
import { copyFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { startGateway } from '../gateway.js'
import { createCoreLog } from '../log.js'
import { defaultManifest } from '../paths.js'
import { systemdNotifier } from '../systemd.js'

/**
 * The demo runs from a fresh copy of the embedded default manifest, so management changes made while it
 * runs (which are written to the manifest) never touch the installed file, and every start is the same demo.
 */
function demoManifest (): string {
  const dir = path.join(os.tmpdir(), 'outpost-demo')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = path.join(dir, 'gateway.json')
  copyFileSync(defaultManifest, file)
  return file
}

export async function run (args: string[]): Promise<number> {
  const log = createCoreLog({ level: process.env.OUTPOST_LOG_LEVEL === 'debug' ? 'debug' : 'info' })
  const manifestFile = args[0] ?? demoManifest()
  if (args[0] === undefined) log.info(`no manifest given: running the demo from ${manifestFile}, a copy of ${defaultManifest}`)
  let gateway
  try {
    gateway = await startGateway({ manifestFile, log })
  } catch (err) {
    if (err instanceof OutpostError) {
      process.stderr.write(`outpost: ${err.message}\n`)
      return err.code.startsWith('MANIFEST') || err.code.startsWith('BOARD') || err.code.startsWith('RESOURCE') || err.code === 'BUDGET_EXCEEDS_BOARD' ? 2 : 1
    }
    throw err
  }
  const service = systemdNotifier(process.env, log)
  service?.ready(`gateway ${gateway.loaded.manifest.gateway}: ${gateway.modules.list().length} module(s)`)
  // One stop, however many signals ask for it. A terminal's Ctrl-C reaches `npm start` too, which forwards
  // it: the core gets SIGINT twice at once, and the second must not kill it halfway through stopping.
  await new Promise<void>(resolve => {
    let stopping = false
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return log.debug(`${signal} received: already stopping`)
      stopping = true
      log.info(`${signal} received`)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  service?.stopping()
  await gateway.stop()
  return 0
}
