// `outpost run [manifest]`: runs a gateway in the foreground until SIGINT/SIGTERM, then stops every module
// in order and exits 0. A bad manifest starts nothing and exits 2 with the problems listed.
import { OutpostError } from '../errors.js'
import { startGateway } from '../gateway.js'
import { createCoreLog } from '../log.js'
import { defaultManifest } from '../paths.js'

export async function run (args: string[]): Promise<number> {
  const manifestFile = args[0] ?? defaultManifest
  const log = createCoreLog({ level: process.env.OUTPOST_LOG_LEVEL === 'debug' ? 'debug' : 'info' })
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
  await new Promise<void>(resolve => {
    const stop = (signal: string): void => {
      log.info(`${signal} received`)
      resolve()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  await gateway.stop()
  return 0
}
