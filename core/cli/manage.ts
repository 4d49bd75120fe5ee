// `outpost ls | status | info | start | stop | restart | reset`: reading and driving modules.
import type { ModuleSummary } from '../management/describe.js'
import { gatewayCommand } from './command.js'
import type { Command, Io } from './command.js'
import { UsageError } from './exit.js'
import { bytes, duration, fixed, lastExit, printable, table } from './format.js'
import type { Parsed } from './options.js'

export function moduleArg (parsed: Parsed): string {
  const [module, ...rest] = parsed.positionals
  if (module === undefined) throw new UsageError('expected a module name')
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`)
  return module
}

function memoryCell (s: ModuleSummary, io: Io): string {
  const text = bytes(s.memoryBytes)
  if (s.memoryBytes === null) return text
  const share = s.memoryBytes / (s.budgetMiB * 1024 * 1024 * Math.max(1, s.instances.length))
  return share >= 0.9 ? io.style.paint(31, text) : share >= 0.7 ? io.style.paint(33, text) : text
}

export function modulesTable (list: ModuleSummary[], io: Io): string {
  const rows = list.map(s => [
    s.module,
    io.style.state(s.state),
    `${s.instances.filter(i => i.state === 'running').length}/${s.instances.length}`,
    s.instances.map(i => i.pid ?? '-').join(','),
    memoryCell(s, io),
    `${s.budgetMiB} MiB`,
    duration(s.uptimeMs),
    String(s.restarts),
    s.failure ?? lastExit(s.lastExit),
  ])
  return table(['MODULE', 'STATE', 'UP', 'PID', 'MEMORY', 'BUDGET', 'UPTIME', 'RESTARTS', 'LAST EXIT'], rows, { right: [4, 5, 7], style: io.style })
}

const ls = gatewayCommand({
  usage: 'ls',
  summary: 'list modules: state, memory against budget, uptime, restarts, last exit',
  async run (session, _parsed, io) {
    const list = await session.call<ModuleSummary[]>('core', 'list')
    io.print(list, shown => (shown.length === 0 ? 'no modules\n' : modulesTable(shown, io)))
    return 0
  },
})

type Status = ModuleSummary & { spec: unknown, program: string | string[] | null, calls: unknown, after: string[] }

const status = gatewayCommand({
  usage: 'status <module>',
  summary: 'one module in detail: state, instances, program, manifest entry',
  async run (session, parsed, io) {
    io.print(await session.call<Status>('core', 'status', { module: moduleArg(parsed) }), s => {
      const field = (name: string, value: string): string => `  ${name.padEnd(10)} ${value}\n`
      const instances = table(['#', 'STATE', 'PID', 'MEMORY', 'CPU', 'UPTIME', 'RESTARTS', 'LAST EXIT'], s.instances.map(i => [
        String(i.instance), io.style.state(i.state), String(i.pid ?? '-'), bytes(i.memoryBytes),
        i.cpuMs === null ? '-' : `${fixed(i.cpuMs / 1000, 1)}s`, duration(i.uptimeMs), String(i.restarts), i.failure ?? lastExit(i.lastExit),
      ]), { right: [3, 4, 6] })
      return `${io.style.paint(1, s.module)}  ${io.style.state(s.state)}\n` +
        field('enabled', s.enabled ? 'yes' : 'no') +
        field('program', Array.isArray(s.program) ? s.program.join(' ') : s.program ?? '-') +
        field('budget', `${s.budgetMiB} MiB per instance`) +
        field('memory', bytes(s.memoryBytes)) +
        field('uptime', duration(s.uptimeMs)) +
        field('restarts', String(s.restarts)) +
        field('last exit', lastExit(s.lastExit)) +
        (s.failure === null ? '' : field('failure', io.style.paint(31, s.failure))) +
        field('calls', Array.isArray(s.calls) ? s.calls.join(', ') || '(none)' : 'every module but core') +
        field('after', s.after.join(', ') || '-') +
        '\n' + instances.trimEnd().replace(/^/gm, '  ') + '\n' +
        `\n  manifest entry:\n${JSON.stringify(s.spec, null, 2).replace(/^/gm, '    ')}\n`
    })
    return 0
  },
})

interface Info {
  gateway: string
  board: { name: string, title: string, ramMiB: number, simulated: boolean }
  versions: Record<string, string>
  uptimeMs: number
  memory: { totalBytes: number, availableBytes: number, coreBytes: number | null, modulesBytes: number }
  load: number[]
  listeners: Array<{ type: string, url: string, for: string, anonymous?: boolean, clientCertificates?: boolean }>
  manifest: string
  modules: { total: number, running: number }
}

const info = gatewayCommand({
  usage: 'info',
  summary: 'the gateway: board, versions, uptime, memory, listeners',
  async run (session, _parsed, io) {
    io.print(await session.call<Info>('core', 'info'), i => {
      const field = (name: string, value: string): string => `${name.padEnd(10)} ${value}\n`
      return field('gateway', io.style.paint(1, i.gateway)) +
        field('board', `${i.board.name} (${i.board.title}${i.board.simulated ? ', simulated' : ''})`) +
        field('versions', Object.entries(i.versions).map(([k, v]) => `${k} ${v}`).join(', ')) +
        field('uptime', duration(i.uptimeMs)) +
        field('modules', `${i.modules.running} of ${i.modules.total} running`) +
        field('memory', `${bytes(i.memory.availableBytes)} available of ${bytes(i.memory.totalBytes)}; core ${bytes(i.memory.coreBytes)}, modules ${bytes(i.memory.modulesBytes)}`) +
        field('load', i.load.map(l => fixed(l, 2)).join(' ')) +
        field('manifest', i.manifest) +
        i.listeners.map(l => field('listener', `${l.url} (${l.for}${l.anonymous === true ? ', anonymous' : ''}${l.clientCertificates === true ? ', client certificates' : ''})`)).join('')
    })
    return 0
  },
})

/** start, stop, restart, reset: one module, then its state; exit 1 when it did not end up where asked */
function stateChange (method: 'start' | 'stop' | 'restart' | 'reset', summary: string): Command {
  return gatewayCommand({
    usage: `${method} <module>`,
    summary,
    async run (session, parsed, io) {
      const reply = await session.call<ModuleSummary>('core', method, { module: moduleArg(parsed) })
      const wanted = method === 'stop' ? 'stopped' : 'running'
      io.print(reply, s => `${s.module}: ${io.style.state(s.state)}${s.failure === null ? '' : ` (${s.failure})`}\n`)
      const s = printable(reply)
      if (s.state !== wanted) {
        process.stderr.write(`outpost: ${s.module} is ${s.state}, not ${wanted}${s.failure === null ? '' : `: ${s.failure}`} (outpost logs ${s.module})\n`)
        return 1
      }
      return 0
    },
  })
}

export const manageCommands: Record<string, Command> = {
  ls,
  status,
  info,
  start: stateChange('start', 'start a stopped module (runtime only: the manifest keeps "enabled")'),
  stop: stateChange('stop', 'stop a module (runtime only: it starts again at the next boot if enabled)'),
  restart: stateChange('restart', 'stop and start a module'),
  reset: stateChange('reset', 'start a failed module again, forgetting its crash loop'),
}
