// Entry point of the module SDK. A module's main file:
//
//   runModule<Config>(async (m) => {
//     m.hooks('reading').method('get', () => last)
//     await m.start()
//     setInterval(() => m.emit('reading', { celsius: read() }), 1000)
//   })
import { OutpostError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { PERMANENT_FAILURE_EXIT } from '../supervisor/policy.js'
import { createModule } from './module.js'
import type { OutpostModule } from './module.js'

export { createModule, SDK_VERSION } from './module.js'
export type { OutpostModule, MethodHandler, HookHandler, HookEvent, CallInfo, CallOptions, RawHandler } from './module.js'
export type { Logger } from './log.js'
export { OutpostError } from '../errors.js'

/**
 * Errors no restart can cure: the module's environment or configuration does not fit this gateway (a line,
 * UART or bus the board does not have, a GPIO chip this machine does not have, options no driver accepts).
 * A module failing to start with one of these exits 125, so it is `failed` with the reason in its log
 * instead of restarting in a loop.
 */
export const CONFIGURATION_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'MODULE_ENV', 'BAD_ARGUMENTS', 'RESOURCE_UNKNOWN', 'GPIO_LINE_UNKNOWN', 'GPIO_CHIP_NOT_FOUND', 'GPIO_DIRECTION',
])

/** the exit code for a module that failed to start with `err`: 125 for a configuration error, 1 otherwise */
export function startFailureExit (err: unknown): number {
  return err instanceof OutpostError && CONFIGURATION_ERRORS.has(err.code) ? PERMANENT_FAILURE_EXIT : 1
}

/**
 * Creates the module from its environment, runs `main`, and owns the process lifecycle: SIGTERM/SIGINT
 * run the stop handlers and exit 0; a failure to start exits with the reason on one log line, with code
 * 125 for a configuration error (CONFIGURATION_ERRORS) and 1 otherwise.
 */
export function runModule<Config = unknown> (main: (m: OutpostModule<Config>) => unknown): void {
  let m: OutpostModule<Config>
  try {
    m = createModule<Config>()
  } catch (err) {
    process.stderr.write(`<3>${(err as Error).message}\n`)
    process.exit(startFailureExit(err))
  }
  const shutdown = (): void => {
    m.stop().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  Promise.resolve().then(() => main(m)).catch((err: unknown) => {
    const code = startFailureExit(err)
    m.log.error(code === PERMANENT_FAILURE_EXIT ? 'module failed to start: configuration error, not to be restarted' : 'module failed to start', { error: err as Error, code: (err as { code?: string }).code })
    process.exit(code)
  })
}
