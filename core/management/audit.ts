// The audit log: one JSON line per management change or refused attempt (who, what, when, result), appended
// to a file that rotates by size (audit.log → audit.log.1 → … → audit.log.<keep>), and published as the
// hook `hooks/core/audit`. Reads (list, status, logs, …) are not audited: `top` alone would flood it.
import fs from 'node:fs'
import type { Caller } from '../broker/access.js'

export interface AuditRecord {
  ts: number
  /** the authenticated caller, as the broker stamped it; never a self-declared name */
  who: Caller | { kind: 'unknown', from: string | null }
  /** the management method, e.g. "configure" */
  op: string
  module?: string
  /** what was asked to change: field names for config (values may be secrets), values for the rest */
  change?: Record<string, unknown>
  result: 'ok' | 'error' | 'denied'
  error?: { code: string, message: string }
}

export interface AuditLog {
  record (entry: AuditRecord): void
  /** resolves once everything recorded so far is on disk */
  flush (): Promise<void>
}

export interface AuditOptions {
  file: string
  maxBytes: number
  keep: number
  publish (record: AuditRecord): void
  warn (message: string): void
}

export function createAuditLog (options: AuditOptions): AuditLog {
  const { file, maxBytes, keep } = options
  let size = 0
  try {
    size = fs.statSync(file).size
  } catch {
    // no log yet
  }
  let queue = Promise.resolve()

  const rotate = async (): Promise<void> => {
    await fs.promises.rm(`${file}.${keep}`, { force: true })
    for (let i = keep - 1; i >= 1; i--) {
      await fs.promises.rename(`${file}.${i}`, `${file}.${i + 1}`).catch(() => {})
    }
    await fs.promises.rename(file, `${file}.1`)
    size = 0
  }

  const append = async (line: string): Promise<void> => {
    const bytes = Buffer.byteLength(line)
    if (size > 0 && size + bytes > maxBytes) await rotate()
    await fs.promises.appendFile(file, line, { mode: 0o600 })
    size += bytes
  }

  return {
    record (entry) {
      options.publish(entry)
      const line = JSON.stringify(entry) + '\n'
      // appends run one after another, in the order operations finished
      queue = queue.then(() => append(line)).catch((err: Error) => options.warn(`cannot write audit log ${file}: ${err.message}`))
    },
    flush: () => queue,
  }
}
