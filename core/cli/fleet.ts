// `outpost fleet ls`: every gateway seen on a fleet's upstream broker, from their retained statuses
// (`<root>/+/status`, docs/fleet.md): online or offline, version, modules running of total, when the status was
// sent, since when its uplink runs, and the store-and-forward backlog. Sorted by fleet id; --json for scripts.
// The upstream decides how much it sends: the listing keeps at most --limit gateways, and says (exit 7) when
// it shows fewer than it saw, or when statuses were still coming as --timeout ended the reading.
import type { Command } from './command.js'
import { io } from './command.js'
import { newClientId, openClient } from './connect.js'
import { OutpostError } from '../errors.js'
import { EXIT, UsageError } from './exit.js'
import { createListing } from './fleet-listing.js'
import type { FleetStatus } from './fleet-status.js'
import { readStatus } from './fleet-status.js'
import { bytes, cut, duration, jsonText, table } from './format.js'
import { CONNECTION_HELP, numberOption, parseCommand } from './options.js'

/**
 * Retained statuses come right behind the subscription's acknowledgement; they are read until nothing has come
 * for this long (so a broker that sends them in batches is waited for, and a quiet one costs this much). Any
 * byte counts, not only a whole status: a large packet still on its way is not quiet.
 */
const QUIET_MS = 300
/** gateways listed unless --limit says otherwise; the rest are counted ("+N more not shown") */
export const DEFAULT_LIMIT = 2000
const MAX_LIMIT = 100_000
/** a cell of the text table is cut to this many characters (a fleet id has at most 64) */
const CELL_CHARS = 64

const USAGE = 'fleet ls --via <upstream url> [--topic-root <root>] [--limit <n>]'
const SUMMARY = 'every gateway seen on a fleet\'s upstream broker: online/offline, version, modules, last status, queue'
const LIMIT_HELP = `  --limit <n>          list at most n gateways, the first by fleet id (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT}): the rest are counted\n`

export type FleetRow = FleetStatus & { gateway: string }

export const fleet: Command = {
  usage: USAGE,
  summary: SUMMARY,
  async run (argv) {
    const parsed = parseCommand(argv, { limit: { type: 'string' } })
    if (parsed.help) {
      process.stdout.write(`usage: outpost ${USAGE}\n\n${SUMMARY}\n\n${LIMIT_HELP}\n${CONNECTION_HELP}`)
      return 0
    }
    const [what, extra] = parsed.positionals
    if (what !== 'ls') throw new UsageError(what === undefined ? 'expected a fleet command: ls' : `unknown fleet command "${what}" (there is: ls)`)
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
    const limit = numberOption(parsed.values, 'limit') ?? DEFAULT_LIMIT
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new UsageError(`--limit expects a whole number from 1 to ${MAX_LIMIT}, not ${limit}`)
    const c = parsed.common.connection
    if (c.fleet === undefined) throw new UsageError('fleet ls needs --via <upstream url>')
    if (c.fleet.gateway !== undefined) throw new UsageError('fleet ls lists every gateway: leave out --gateway')
    const root = c.fleet.topicRoot
    const { rows, missing } = await readStatuses(c, root, limit)
    const out = io(parsed.common.json)
    out.print(rows, shown => (shown.length === 0 ? `no gateway has a status under ${root}/+/status\n` : fleetTable(shown, out.style)) + missing.map(line => `${line}\n`).join(''))
    if (missing.length === 0) return EXIT.ok
    if (out.json) process.stderr.write(jsonText({ incomplete: missing }) + '\n')
    return EXIT.incomplete
  },
}

/** the gateways kept, and one sentence for each reason the listing may show fewer than the upstream holds */
async function readStatuses (c: Parameters<typeof openClient>[0], root: string, limit: number): Promise<{ rows: FleetRow[], missing: string[] }> {
  const { client, closed, onMessage } = await openClient(c, newClientId(), 'upstream')
  let ending = false
  try {
    const listing = createListing(limit)
    const filter = `${root}/+/status`
    let heard = Date.now()
    onMessage((topic, payload) => {
      listing.put(topic.slice(root.length + 1, -'/status'.length), readStatus(payload))
    })
    client.stream.on('data', () => { heard = Date.now() })
    const lost = closed.then(refused => {
      if (!ending) throw refused ?? new OutpostError('GATEWAY_UNREACHABLE', `the connection to the upstream broker ${c.url} was lost while reading statuses`)
    })
    const granted = await Promise.race([client.subscribeAsync(filter, { qos: 1 }), lost.then(() => [])])
    if (granted.some(g => g.qos === 128)) throw new OutpostError('NOT_AUTHORISED', `the upstream broker refused the subscription to ${filter}`)
    heard = Date.now()
    const deadline = heard + c.timeoutMs
    while (Date.now() - heard < QUIET_MS && Date.now() < deadline) await Promise.race([new Promise(resolve => setTimeout(resolve, QUIET_MS / 3)), lost])
    const missing: string[] = []
    const past = listing.unshown()
    if (past.count > 0) missing.push(`+${past.count}${past.atLeast ? ' or more' : ''} more gateway(s) not shown (--limit ${limit})`)
    if (Date.now() - heard < QUIET_MS) missing.push(`statuses were still arriving when --timeout (${c.timeoutMs} ms) ended the reading: there may be more gateways`)
    const strange = listing.notFleetIds()
    if (strange > 0) missing.push(`${strange} status(es) under a name that is not a fleet id, not listed`)
    return { rows: listing.rows(), missing }
  } finally {
    ending = true
    await client.endAsync().catch(() => {})
  }
}

/** the text table; a NOTE column says which statuses are malformed (readStatus dropped those fields), when any is */
function fleetTable (rows: FleetRow[], style: ReturnType<typeof io>['style'], now = Date.now()): string {
  const paintState = (state: string): string => style.paint(state === 'online' ? 32 : state === 'offline' ? 31 : 33, state)
  const noted = rows.some(r => r.malformed !== undefined)
  const header = ['GATEWAY', 'STATE', 'VERSION', 'MODULES', 'LAST STATUS', 'UP SINCE', 'QUEUE', 'DROPPED', ...(noted ? ['NOTE'] : [])]
  return table(header, rows.map(r => {
    const d = r.queue?.dropped
    const cells = [
      r.gateway,
      r.state,
      r.version ?? '-',
      r.modules === undefined ? '-' : `${r.modules.running}/${r.modules.total}`,
      r.ts === undefined ? '-' : ago(now - r.ts),
      r.state === 'online' && r.since !== undefined ? duration(now - r.since) : '-',
      r.queue === undefined ? '-' : `${r.queue.records} (${bytes(r.queue.bytes)})`,
      d === undefined ? '-' : String(d.full + d.age + d.tooLarge),
      ...(noted ? [r.malformed === undefined ? '' : `malformed status: ${r.malformed.join(', ')}`] : []),
    ].map(cell => cut(cell, CELL_CHARS))
    cells[1] = paintState(cells[1] as string)
    return cells
  }), { right: [3, 4, 5, 6, 7], style })
}

/** a time before now as "5s ago"; a gateway's clock may be ahead of ours */
function ago (ms: number): string {
  return ms < 0 ? `in ${duration(-ms)}` : `${duration(ms)} ago`
}
