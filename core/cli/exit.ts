// Exit codes scripts can trust (docs/management.md, "Exit codes"), and turning any error into one line.
import { OutpostError, isErrorCode } from '../errors.js'

export const EXIT = {
  ok: 0,
  /** the gateway refused or the operation failed (invalid change, handler error, …) */
  failed: 1,
  /** wrong command line */
  usage: 2,
  /** cannot connect, connection lost, or no reply in time */
  unreachable: 3,
  /** wrong user or password, or the user may not do that */
  notAuthorised: 4,
  /** no such module or method */
  notFound: 5,
  /** the module is already in that state (start a running module, reset one that has not failed) */
  conflict: 6,
  /** `fleet ls` shows fewer gateways than it saw, or statuses were still coming when it stopped reading */
  incomplete: 7,
} as const

/** A mistake on the command line: printed with the command's usage, exit 2. */
export class UsageError extends Error {}

export function exitCodeOf (err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage
  const code = (err as { code?: unknown } | null)?.code
  if (!isErrorCode(code)) return EXIT.failed
  switch (code) {
    case 'GATEWAY_UNREACHABLE':
    case 'TIMEOUT': return EXIT.unreachable
    case 'NOT_AUTHORISED': return EXIT.notAuthorised
    case 'NO_SUCH_MODULE':
    case 'NO_SUCH_METHOD': return EXIT.notFound
    case 'CONFLICT': return EXIT.conflict
    case 'BAD_ARGUMENTS': return EXIT.usage
    default: return EXIT.failed
  }
}

/** the error as the user sees it: its message, never a stack trace (OUTPOST_DEBUG=1 adds the stack) */
export function describeError (err: unknown): { code: string, message: string } {
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof OutpostError) return { code: err.code, message }
  if (err instanceof UsageError) return { code: 'USAGE', message }
  return { code: 'ERROR', message }
}
