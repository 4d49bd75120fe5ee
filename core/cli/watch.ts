// `outpost logs`, `outpost call`, `outpost sub`: reading what modules say, calling any module method.
import { OutpostError } from '../errors.js'
import { decode, sniffFormat } from '../protocol/codec.js'
import { checkHook } from '../protocol/envelope.js'
import type { LogLine } from '../management/log-store.js'
import { gatewayCommand, shown } from './command.js'
import type { Command, Io } from './command.js'
import type { Session } from './connect.js'
import { UsageError } from './exit.js'
import { clock, jsonText, pad, printable } from './format.js'
import { numberOption, parseJson } from './options.js'

const LEVEL_COLOURS: Record<string, number> = { error: 31, warn: 33, info: 0, debug: 90 }

function logLine (raw: LogLine, io: Io): string {
  if (io.json) return jsonText(raw) + '\n'
  // the gateway writes out control characters in every line it logs (log.ts), but through a fleet's upstream
  // the gateway itself may be the one to distrust
  const line = printable(raw)
  const who = line.instance === undefined ? line.source : `${line.source}.${line.instance}`
  const level = line.level === 'info' ? '' : io.style.paint(LEVEL_COLOURS[line.level] ?? 0, `${line.level} `)
  return `${io.style.paint(90, clock(line.ts))} ${pad(io.style.paint(36, who), 14)} ${level}${line.text}\n`
}

/** resolves on Ctrl-C / SIGTERM, or rejects when the connection is lost */
function untilInterrupted (session: Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => resolve()
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
    session.closed.then(reject)
  })
}

/**
 * Through a fleet's upstream the gateway's log hooks are not forwarded (only the manifest's uplink.hooks are),
 * so a follow asks `logs` for the lines after the last one it printed, this often: one request per second,
 * well within the uplink's requestsPerSecond.
 */
const FOLLOW_POLL_MS = 1000
/** lines asked for per poll, the most `logs` gives: a second with more matching lines shows its newest 1000 */
const FOLLOW_POLL_LINES = 1000

const logs = gatewayCommand({
  usage: 'logs [<module>] [-n <lines>] [-f] [--level error|warn|info|debug]',
  summary: 'recent log lines of a module (or of the whole gateway); -f follows new lines until Ctrl-C',
  options: { lines: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' }, level: { type: 'string' } },
  async run (session, parsed, io) {
    const [module, extra] = parsed.positionals
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
    const level = parsed.values.level
    const args = { ...(module === undefined ? {} : { module }), lines: numberOption(parsed.values, 'lines') ?? 100, ...(typeof level === 'string' ? { level } : {}) }
    let last = 0
    const show = (line: LogLine): void => {
      if (line.seq <= last) return
      last = line.seq
      io.out(shown(() => logLine(line, io)))
    }
    const early: LogLine[] = []
    let following = false
    if (parsed.values.follow === true && session.localBus) {
      // subscribe before asking for the tail, so no line falls between the two
      await session.subscribe([`hooks/core/log/${module ?? '+'}`], (_topic, payload) => {
        const hook = checkHook(readable(payload))
        if (hook === null) return
        if (hook.data === null || typeof hook.data !== 'object') return // not a log line: the core sends none such
        if (following) show(hook.data as LogLine)
        else early.push(hook.data as LogLine)
      })
    }
    const tail = await session.call<LogsAnswer>('core', 'logs', args)
    tellOmitted(tail)
    for (const line of linesOf(tail)) show(line)
    if (parsed.values.follow !== true) return 0
    if (!session.localBus) {
      let polling = true
      try {
        await Promise.race([pollLogs(session, { ...args, lines: FOLLOW_POLL_LINES }, tail.next, show, () => polling), untilInterrupted(session)])
      } finally {
        polling = false
      }
      return 0
    }
    following = true
    for (const line of early) show(line)
    await untilInterrupted(session)
    return 0
  },
})

/** `core.logs`'s answer (docs/management.md) */
interface LogsAnswer { lines: LogLine[], next: number, omitted?: number }

/** `core.logs`'s lines, or BAD_REPLY when the answer holds none: every line is then shown as it is (logLine) */
function linesOf (answer: LogsAnswer): LogLine[] {
  if (answer === null || typeof answer !== 'object' || !Array.isArray(answer.lines) || !answer.lines.every(l => l !== null && typeof l === 'object')) {
    throw new OutpostError('BAD_REPLY', 'the gateway\'s answer to core.logs holds no list of log lines')
  }
  return answer.lines
}

/** on stderr, so that stdout holds log lines alone */
function tellOmitted (answer: LogsAnswer): void {
  if (typeof answer.omitted === 'number' && answer.omitted > 0) process.stderr.write(`outpost: ${answer.omitted} older lines left out: the gateway answers at most 2 Mi characters of log text at once\n`)
}

/** asks for the lines after `since` every FOLLOW_POLL_MS while `going()`, until a call fails */
async function pollLogs (session: Session, args: Record<string, unknown>, since: number, show: (line: LogLine) => void, going: () => boolean): Promise<void> {
  for (;;) {
    await new Promise(resolve => setTimeout(resolve, FOLLOW_POLL_MS).unref())
    if (!going()) return
    const page = await session.call<LogsAnswer>('core', 'logs', { ...args, since })
    tellOmitted(page)
    for (const line of linesOf(page)) show(line)
    since = page.next
  }
}

const call = gatewayCommand({
  usage: 'call <module>.<method> [<json args>]',
  summary: 'call any module method and print its result as JSON',
  async run (session, parsed, io) {
    const [target, json, extra] = parsed.positionals
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" (quote the JSON arguments)`)
    const dot = target?.indexOf('.') ?? -1
    if (target === undefined || dot <= 0 || dot === target.length - 1) throw new UsageError('expected <module>.<method>, e.g. heater.set')
    const args = json === undefined ? null : parseJson(json, 'the arguments')
    const result = await session.call(target.slice(0, dot), target.slice(dot + 1), args)
    io.out(jsonText(result, !io.json) + '\n')
    return 0
  },
})

function readable (payload: Buffer): unknown {
  if (payload.length === 0) return null // a cleared retained message
  try {
    return decode(payload, sniffFormat(payload))
  } catch {
    return { undecodable: payload.toString('base64') }
  }
}

const FAMILIES = ['hooks/', 'state/', 'presence/', '#', '+/']

const sub = gatewayCommand({
  usage: 'sub <pattern> [-n <count>]',
  summary: 'print messages as readable JSON: a hook pattern <module>/<hook> (+ and # allowed), or a topic filter under hooks/, state/, presence/',
  options: { count: { type: 'string', short: 'n' } },
  async run (session, parsed, io) {
    const [pattern, extra] = parsed.positionals
    if (pattern === undefined) throw new UsageError('expected a pattern, e.g. "temperature/+" or "state/+"')
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
    const filter = FAMILIES.some(f => pattern.startsWith(f)) ? pattern : `hooks/${pattern}`
    const count = numberOption(parsed.values, 'count')
    let seen = 0
    let stop = (): void => {}
    const enough = new Promise<void>(resolve => { stop = resolve })
    await session.subscribe([filter], (topic, payload) => {
      if (count !== undefined && seen >= count) return
      seen++
      const value = readable(payload)
      io.out(io.json ? jsonText({ topic, payload: value }) + '\n' : `${io.style.paint(36, printable(topic))} ${jsonText(value)}\n`)
      if (count !== undefined && seen >= count) stop()
    })
    await Promise.race([enough, untilInterrupted(session)])
    return 0
  },
})

export const watchCommands: Record<string, Command> = { logs, call, sub }
