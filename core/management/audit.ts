// The audit log: one JSON line per management change or refused attempt (who, what, when, result), appended
// to a file that rotates by size (audit.log → audit.log.1 → … → audit.log.<keep>), and published as the
// hook `hooks/core/audit`. Reads (list, status, logs, …) are not audited: `top` alone would flood it.
// Refusals repeat at an attacker's pace, so they are folded: the first refusal of an identity, method and
// module is written at once, the same refusals within the next `repeatWindowMs` become one record with a
// count, and so on while they last; a refused caller cannot rotate the history of real changes away.
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
  /** a folded record: this many more refusals like it happened from `since` to `ts` */
  repeats?: number
  since?: number
}

export interface AuditLog {
  record (entry: AuditRecord): void
  /** resolves once everything recorded so far is on disk, folded refusals included */
  flush (): Promise<void>
  /** refusals folded into another record since the gateway started */
  folded (): number
}

export interface AuditOptions {
  file: string
  maxBytes: number
  keep: number
  /** how long identical refusals are folded into one record */
  repeatWindowMs: number
  publish (record: AuditRecord): void
  warn (message: string): void
}

interface RepeatWindow {
  /** the caller's identity: `operator <user>`, `module <client id>`, `anonymous` */
  who: string
  first: AuditRecord
  repeats: number
  since: number
  timer: NodeJS.Timeout
}

/** refusals tracked for folding at once, in all and per caller; a method name is kept to this many characters */
const MAX_WINDOWS = 256
const MAX_WINDOWS_PER_CALLER = 16
const MAX_OP_CHARS = 128

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

  const write = (entry: AuditRecord): void => {
    options.publish(entry)
    const line = JSON.stringify(entry) + '\n'
    // appends run one after another, in the order operations finished
    queue = queue.then(() => append(line)).catch((err: Error) => options.warn(`cannot write audit log ${file}: ${err.message}`))
  }

  const windows = new Map<string, RepeatWindow>()
  let folded = 0
  const close = (key: string, window: RepeatWindow, reopen: boolean): void => {
    clearTimeout(window.timer)
    if (window.repeats === 0 || !reopen) windows.delete(key)
    if (window.repeats === 0) return
    write({ ...window.first, ts: Date.now(), repeats: window.repeats, since: window.since })
    window.repeats = 0
    if (reopen) window.timer = setTimeout(() => close(key, window, true), options.repeatWindowMs).unref()
  }
  const deny = (entry: AuditRecord): void => {
    const op = entry.op.length > MAX_OP_CHARS ? `${entry.op.slice(0, MAX_OP_CHARS)}…` : entry.op
    // the identity, not the client id: a caller that reconnects under new ids is still one caller
    const who = entry.who.kind === 'operator' ? `operator ${entry.who.user}` : entry.who.kind === 'module' ? `module ${entry.who.clientId}` : entry.who.kind
    const exact = `${who}\n${op}\n${entry.module ?? ''}`
    let key = exact
    // callers choose method names freely: past a few per caller, and past MAX_WINDOWS in all, they share a record
    if (!windows.has(exact)) {
      if (windows.size >= MAX_WINDOWS) key = '*'
      else if ([...windows.values()].filter(w => w.who === who).length >= MAX_WINDOWS_PER_CALLER) key = `${who}\n*`
    }
    const first: AuditRecord = key === exact
      ? { ...entry, op }
      : { ...entry, ...(key === '*' ? { who: { kind: 'unknown', from: null } } : {}), op: '*', error: { code: 'NOT_AUTHORISED', message: 'refused calls of more methods than the audit tracks one by one' } }
    const window = windows.get(key)
    if (window !== undefined) {
      if (window.repeats++ === 0) window.since = entry.ts
      folded++
      return
    }
    write(first)
    const opened: RepeatWindow = { who, first, repeats: 0, since: entry.ts, timer: setTimeout(() => close(key, opened, true), options.repeatWindowMs).unref() }
    windows.set(key, opened)
  }

  return {
    record (entry) {
      if (entry.result === 'denied') deny(entry)
      else write(entry)
    },
    flush () {
      for (const [key, window] of windows) close(key, window, false)
      return queue
    },
    folded: () => folded,
  }
}
