// `outpost fleet ls`: every gateway seen on a fleet's upstream broker, from their retained statuses
// (`<root>/+/status`, docs/fleet.md): online or offline, version, modules running of total, when the status was
// sent, since when its uplink runs, and the store-and-forward backlog. Sorted by fleet id; --json for scripts.
import type { Command } from './command.js'
import { io } from './command.js'
import { newClientId, openClient } from './connect.js'
import { OutpostError } from '../errors.js'
import { UsageError } from './exit.js'
import { readStatus } from './fleet-status.js'
import type { FleetStatus } from './fleet-status.js'
import { bytes, duration, table } from './format.js'
import { CONNECTION_HELP, parseCommand } from './options.js'

/**
 * Retained statuses come right behind the subscription's acknowledgement; they are read until none has come
 * for this long (so a broker that sends them in batches is waited for, and a quiet one costs this much).
 */
const QUIET_MS = 300

const USAGE = 'fleet ls --via <upstream url> [--topic-root <root>]'
const SUMMARY = 'every gateway seen on a fleet\'s upstream broker: online/offline, version, modules, last status, queue'

export type FleetRow = FleetStatus & { gateway: string }

export const fleet: Command = {
  usage: USAGE,
  summary: SUMMARY,
  async run (argv) {
    const parsed = parseCommand(argv)
    if (parsed.help) {
      process.stdout.write(`usage: outpost ${USAGE}\n\n${SUMMARY}\n\n${CONNECTION_HELP}`)
      return 0
    }
    const [what, extra] = parsed.positionals
    if (what !== 'ls') throw new UsageError(what === undefined ? 'expected a fleet command: ls' : `unknown fleet command "${what}" (there is: ls)`)
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
    const c = parsed.common.connection
    if (c.fleet === undefined) throw new UsageError('fleet ls needs --via <upstream url>')
    if (c.fleet.gateway !== undefined) throw new UsageError('fleet ls lists every gateway: leave out --gateway')
    const root = c.fleet.topicRoot
    const rows = await readStatuses(c, root)
    const out = io(parsed.common.json)
    out.print(rows, () => rows.length === 0 ? `no gateway has a status under ${root}/+/status\n` : fleetTable(rows, out.style))
    return 0
  },
}

async function readStatuses (c: Parameters<typeof openClient>[0], root: string): Promise<FleetRow[]> {
  const client = await openClient(c, newClientId(), 'upstream')
  try {
    const statuses = new Map<string, FleetStatus>()
    const filter = `${root}/+/status`
    let heard = Date.now()
    client.on('message', (topic, payload) => {
      const gateway = topic.slice(root.length + 1, -'/status'.length)
      const status = readStatus(payload)
      if (status === undefined) statuses.delete(gateway)
      else statuses.set(gateway, status)
      heard = Date.now()
    })
    const granted = await client.subscribeAsync(filter, { qos: 1 })
    if (granted.some(g => g.qos === 128)) throw new OutpostError('NOT_AUTHORISED', `the upstream broker refused the subscription to ${filter}`)
    heard = Date.now()
    const deadline = heard + c.timeoutMs
    while (Date.now() - heard < QUIET_MS && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, QUIET_MS / 3))
    return [...statuses].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([gateway, status]) => ({ gateway, ...status }))
  } finally {
    await client.endAsync().catch(() => {})
  }
}

/** a gateway writes its own status and names: no control character of it reaches the terminal */
const printable = (text: string): string => text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?')

function fleetTable (rows: FleetRow[], style: ReturnType<typeof io>['style'], now = Date.now()): string {
  const paintState = (state: string): string => style.paint(state === 'online' ? 32 : state === 'offline' ? 31 : 33, state)
  return table(['GATEWAY', 'STATE', 'VERSION', 'MODULES', 'LAST STATUS', 'UP SINCE', 'QUEUE', 'DROPPED'], rows.map(r => {
    const d = r.queue?.dropped
    const cells = [
      r.gateway,
      String(r.state),
      typeof r.version === 'string' ? r.version : '-',
      r.modules === undefined ? '-' : `${r.modules.running}/${r.modules.total}`,
      typeof r.ts === 'number' ? `${duration(now - r.ts)} ago` : '-',
      r.state === 'online' && typeof r.since === 'number' ? duration(now - r.since) : '-',
      r.queue === undefined ? '-' : `${r.queue.records} (${bytes(r.queue.bytes)})`,
      d === undefined ? '-' : String(d.full + d.age + d.tooLarge),
    ].map(printable)
    cells[1] = paintState(cells[1] as string)
    return cells
  }), { right: [3, 4, 5, 6, 7], style })
}
