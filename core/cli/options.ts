// Command-line options shared by every management command (node:util parseArgs), and the connection
// settings they make. Environment: OUTPOST_URL, OUTPOST_USER, OUTPOST_PASS (a password on the command line
// is visible to every user of the machine in `ps`; prefer the environment). With --via, the same commands go
// through a fleet's upstream broker to the gateway named by --gateway (docs/fleet.md, "The fleet CLI").
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { FLEET_ID, isTopicRoot } from '../manifest/fleet-names.js'
import { UsageError } from './exit.js'

export interface ConnectionOptions {
  url: string
  user: string | undefined
  password: string | undefined
  ca: string | undefined
  cert: string | undefined
  key: string | undefined
  /** TLS without checking the gateway's certificate: for a first look at a gateway, never in scripts */
  insecure: boolean
  timeoutMs: number
  /** --via: `url` is a fleet's upstream broker, reached as the operator `user` */
  fleet: { gateway: string | undefined, topicRoot: string } | undefined
}

export interface Common {
  connection: ConnectionOptions
  json: boolean
}

type Options = NonNullable<ParseArgsConfig['options']>

export const connectionOptions: Options = {
  url: { type: 'string' },
  user: { type: 'string', short: 'u' },
  password: { type: 'string', short: 'P' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  insecure: { type: 'boolean' },
  timeout: { type: 'string' },
  via: { type: 'string' },
  gateway: { type: 'string', short: 'g' },
  'topic-root': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

export const CONNECTION_HELP = `connection:
  --url <url>          mqtt://host:port, mqtts://host:port or unix:/path (env OUTPOST_URL; default mqtt://127.0.0.1:1883)
  -u, --user <name>    operator (env OUTPOST_USER)
  -P, --password <pw>  password (env OUTPOST_PASS: safer, \`ps\` shows command lines)
  --ca <file>          CA certificate that signed the gateway's TLS certificate
  --cert <file>        client certificate, when the listener requires one
  --key <file>         key of the client certificate
  --insecure           TLS without checking the gateway's certificate
  --timeout <ms>       how long to wait for the gateway (default 30000)
  --via <url>          through a fleet's upstream broker (mqtts://…): user, password and TLS options are then the upstream's
  -g, --gateway <id>   with --via: the gateway's fleet id
  --topic-root <root>  with --via: the fleet's topic root (default outpost)
  --json               machine-readable output
`

export interface Parsed {
  /** the command's own arguments, as given */
  argv: string[]
  common: Common
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
  help: boolean
}

function number (name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} expects a positive number, not "${text}"`)
  return value
}

function fleetOptions (via: string | undefined, url: string | undefined, gateway: string | undefined, topicRoot: string | undefined): ConnectionOptions['fleet'] {
  if (via === undefined) {
    if (gateway !== undefined || topicRoot !== undefined) throw new UsageError(`--${gateway !== undefined ? 'gateway' : 'topic-root'} goes with --via <upstream url>`)
    return undefined
  }
  if (url !== undefined) throw new UsageError('give --url (a gateway) or --via (a fleet\'s upstream broker), not both')
  if (gateway !== undefined && !FLEET_ID.test(gateway)) throw new UsageError(`--gateway "${gateway}" is not a fleet id (letters, digits, ".", "_" or "-")`)
  const root = topicRoot ?? 'outpost'
  if (!isTopicRoot(root)) throw new UsageError(`--topic-root "${root}" must be 1 to 4 levels of letters, digits, "_" or "-"`)
  return { gateway, topicRoot: root }
}

export function parseCommand (argv: string[], extra: Options = {}): Parsed {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { ...connectionOptions, ...extra }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>
  const text = (name: string): string | undefined => (typeof v[name] === 'string' ? v[name] : undefined)
  return {
    argv,
    common: {
      json: v.json === true,
      connection: {
        url: text('via') ?? text('url') ?? process.env.OUTPOST_URL ?? 'mqtt://127.0.0.1:1883',
        user: text('user') ?? process.env.OUTPOST_USER,
        password: text('password') ?? process.env.OUTPOST_PASS,
        ca: text('ca'),
        cert: text('cert'),
        key: text('key'),
        insecure: v.insecure === true,
        timeoutMs: number('timeout', text('timeout'), 30_000),
        fleet: fleetOptions(text('via'), text('url'), text('gateway'), text('topic-root')),
      },
    },
    values: v,
    positionals: parsed.positionals,
    help: v.help === true,
  }
}

export function numberOption (values: Parsed['values'], name: string): number | undefined {
  const text = values[name]
  if (typeof text !== 'string') return undefined
  const value = Number(text)
  if (!Number.isFinite(value)) throw new UsageError(`--${name} expects a number, not "${text}"`)
  return value
}

export function jsonOption (values: Parsed['values'], name: string): unknown {
  const text = values[name]
  if (typeof text !== 'string') return undefined
  return parseJson(text, `--${name}`)
}

export function parseJson (text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`)
  }
}
