// Runs the manifest checks (check.ts) in the checker process (check-process.ts), on the core's own node
// binary, and reads its one JSON answer. The checks load zod and every shipped schema, which the core
// would otherwise keep in memory for good; the checker takes them along when it exits.
import { execFile } from 'node:child_process'
import type { ExecFileException } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { OutpostError, isErrorCode } from '../errors.js'
import type { CoreLog } from '../log.js'
import type { LoadedManifest } from './load.js'

/** what the checker reads on stdin */
export interface CheckRequest {
  input: unknown
  file: string
}

/** what it prints on stdout: the checked manifest (defaults filled in), or the error the checks threw */
export type CheckReply = CheckLog & ({ loaded: LoadedManifest } | { error: { code?: string, message: string, details?: Record<string, unknown> } })

export interface CheckLog {
  /** what the checks logged (board auto-detection says what it found) */
  log: Array<{ level: 'info' | 'warn', text: string }>
}

const SCRIPT = fileURLToPath(new URL('./check-process.js', import.meta.url))
/** node starts and loads zod in a fraction of a second here, a few seconds on a Pi Zero: this long is stuck */
const TIMEOUT_MS = 60_000

function isReply (value: unknown): value is CheckReply {
  const reply = value as { log?: unknown, loaded?: unknown, error?: { message?: unknown } } | null
  return typeof reply === 'object' && reply !== null && Array.isArray(reply.log) &&
    ((typeof reply.loaded === 'object' && reply.loaded !== null) || typeof reply.error?.message === 'string')
}

function checkerFailed (file: string, why: string): OutpostError {
  return new OutpostError('CHECKER_FAILED', `cannot check manifest ${file}: ${why}`, { details: { file } })
}

function describeFailure (err: ExecFileException, stderr: string): string {
  // a string code: node could not spawn it (ENOENT, EACCES…) or gave up reading it
  if (typeof err.code === 'string') return `the checker process (${process.execPath} ${SCRIPT}) failed: ${err.message}`
  if (err.killed === true) return `the checker process gave no answer within ${TIMEOUT_MS / 1000} s`
  const how = err.signal === null || err.signal === undefined ? `exited with code ${err.code}` : `was killed by ${err.signal}`
  return `the checker process ${how}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`
}

function ask (request: CheckRequest): Promise<CheckReply> {
  return new Promise((resolve, reject) => {
    // the answer holds the manifest, so it is as large as the manifest: no cap
    const child = execFile(process.execPath, [SCRIPT], { timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: Infinity }, (err, stdout, stderr) => {
      if (err !== null) return reject(checkerFailed(request.file, describeFailure(err, stderr)))
      let reply: unknown
      try {
        reply = JSON.parse(stdout)
      } catch {
        // not JSON: the same answer as JSON of the wrong shape
      }
      if (isReply(reply)) resolve(reply)
      else reject(checkerFailed(request.file, `the checker process answered ${JSON.stringify(stdout.slice(0, 200))}, not a result`))
    })
    // a checker that dies before reading its input breaks the pipe (EPIPE); its exit says why
    child.stdin?.on('error', () => {})
    child.stdin?.end(JSON.stringify(request))
  })
}

/** The checked manifest, or the error the checks threw, as if they had run here; `log` hears what they logged. */
export async function runChecker (request: CheckRequest, log?: Pick<CoreLog, 'info' | 'warn'>): Promise<LoadedManifest> {
  const reply = await ask(request)
  for (const line of reply.log) log?.[line.level](line.text)
  if (!('error' in reply)) return reply.loaded
  const { code, message, details } = reply.error
  if (isErrorCode(code)) throw new OutpostError(code, message, details === undefined ? {} : { details })
  throw checkerFailed(request.file, message)
}
