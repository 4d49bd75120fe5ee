// Entry point of the module SDK. A module's main file:
//
//   runModule<Config>(async (m) => {
//     m.hooks('reading').method('get', () => last)
//     await m.start()
//     setInterval(() => m.emit('reading', { celsius: read() }), 1000)
//   })
import { OutpostError } from '../errors.js'
import { createModule } from './module.js'
import type { OutpostModule } from './module.js'

export { createModule, SDK_VERSION } from './module.js'
export type { OutpostModule, MethodHandler, HookHandler, HookEvent, CallInfo, CallOptions, RawHandler } from './module.js'
export type { Logger } from './log.js'
export { OutpostError } from '../errors.js'

/**
 * Creates the module from its environment, runs `main`, and owns the process lifecycle: SIGTERM/SIGINT
 * run the stop handlers and exit 0; a failure to start exits 1 with the reason on one log line.
 */
export function runModule<Config = unknown> (main: (m: OutpostModule<Config>) => unknown): void {
  let m: OutpostModule<Config>
  try {
    m = createModule<Config>()
  } catch (err) {
    process.stderr.write(`<3>${(err as Error).message}\n`)
    // without its environment a module can never start: 125 tells the supervisor not to retry
    process.exit(err instanceof OutpostError && err.code === 'MODULE_ENV' ? 125 : 1)
  }
  const shutdown = (): void => {
    m.stop().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  Promise.resolve().then(() => main(m)).catch((err: unknown) => {
    m.log.error('module failed to start', { error: err as Error, code: (err as { code?: string }).code })
    process.exit(1)
  })
}
