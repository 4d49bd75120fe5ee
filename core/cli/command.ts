// What every CLI command shares: its usage text, its options, a session with the gateway that is always
// closed, and output that is a table on a terminal or JSON with --json.
import { OutpostError } from '../errors.js'
import { connect } from './connect.js'
import type { Session } from './connect.js'
import { jsonText, printable, styleFor } from './format.js'
import type { Style } from './format.js'
import { CONNECTION_HELP, parseCommand } from './options.js'
import type { Parsed } from './options.js'
import type { ParseArgsConfig } from 'node:util'

export interface Command {
  /** arguments, e.g. "status <module>" */
  usage: string
  /** one line: what it does */
  summary: string
  run (argv: string[]): Promise<number>
}

export interface Io {
  out (text: string): void
  style: Style
  json: boolean
  /**
   * prints `value` as JSON (with --json) or as the text `readable` makes of it, handed `value` with its
   * strings made printable: text from the wire reaches the terminal only through here (or `printable` itself)
   */
  print<T> (value: T, readable: (value: T) => string): void
}

export function io (json: boolean): Io {
  const style = styleFor(process.stdout, json)
  const out = (text: string): void => { process.stdout.write(text) }
  return {
    out,
    style,
    json,
    print (value, readable) { out(shown(() => json ? jsonText(value, true) + '\n' : readable(printable(value)))) },
  }
}

/**
 * What `render` makes of an answer from the wire, or BAD_REPLY: the gateway decides the answer's shape, and a
 * value of another type or range (a string where a list goes, a bigint) is said in one sentence, not thrown
 * as whatever the renderer stumbled on.
 */
export function shown (render: () => string): string {
  try {
    return render()
  } catch (err) {
    throw new OutpostError('BAD_REPLY', `the gateway's answer cannot be shown: it is not of the shape this command reads (${(err as Error).message})`)
  }
}

export interface GatewayCommand {
  usage: string
  summary: string
  options?: NonNullable<ParseArgsConfig['options']>
  run (session: Session, parsed: Parsed, io: Io): Promise<number>
}

/** a command that talks to a gateway: parses, connects, runs, always disconnects */
export function gatewayCommand (spec: GatewayCommand): Command {
  return {
    usage: spec.usage,
    summary: spec.summary,
    async run (argv) {
      const parsed = parseCommand(argv, spec.options)
      if (parsed.help) {
        process.stdout.write(`usage: outpost ${spec.usage}\n\n${spec.summary}\n\n${CONNECTION_HELP}`)
        return 0
      }
      const session = await connect(parsed.common.connection)
      try {
        return await spec.run(session, parsed, io(parsed.common.json))
      } finally {
        await session.end()
      }
    },
  }
}
