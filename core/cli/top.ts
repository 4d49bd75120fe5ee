// `outpost top`: a live table of the gateway's modules, redrawn every interval like htop or `pm2 monit`:
// state, CPU (from the change in CPU time between two polls), memory against budget, restarts, uptime.
// q or Ctrl-C quits. Not on a terminal, it prints one frame and exits (for scripts and logs).
import { OutpostError } from '../errors.js'
import type { ModuleSummary } from '../management/describe.js'
import { gatewayCommand, shown } from './command.js'
import type { Io } from './command.js'
import { bytes, duration, fixed, lastExit, printable, table } from './format.js'
import { numberOption } from './options.js'

interface Info {
  gateway: string
  board: { name: string }
  uptimeMs: number
  memory: { totalBytes: number, availableBytes: number }
  load: number[]
}

interface Sample { at: number, cpuMs: Map<string, number> }

function bar (share: number, width: number, io: Io): string {
  const filled = Math.min(width, Math.round(share * width))
  const code = share >= 0.9 ? 31 : share >= 0.7 ? 33 : 32
  return `[${io.style.paint(code, '#'.repeat(filled))}${'.'.repeat(width - filled)}]`
}

export function frame (info: Info, list: ModuleSummary[], previous: Sample | undefined, now: Sample, io: Io): string {
  const running = list.filter(s => s.state === 'running').length
  const header = `${io.style.paint(1, `outpost top — ${info.gateway}`)} on ${info.board.name} — up ${duration(info.uptimeMs)} — ` +
    `${running}/${list.length} modules running — ${bytes(info.memory.availableBytes)} free of ${bytes(info.memory.totalBytes)} — load ${info.load.map(l => fixed(l, 2)).join(' ')}`
  const rows = list.map(s => {
    const budget = s.budgetMiB * 1024 * 1024 * Math.max(1, s.instances.length)
    const before = previous?.cpuMs.get(s.module)
    const cpu = previous === undefined || before === undefined || s.cpuMs === null || now.at <= previous.at
      ? '-'
      : `${fixed(Math.max(0, ((s.cpuMs - before) / (now.at - previous.at)) * 100), 1)}%`
    const pids = s.instances.map(i => i.pid).filter(p => p !== null)
    return [
      s.module,
      io.style.state(s.state),
      pids.length === 0 ? '-' : `${pids[0]}${pids.length > 1 ? ` +${pids.length - 1}` : ''}`,
      cpu,
      `${bytes(s.memoryBytes)} / ${bytes(budget)}`,
      bar(s.memoryBytes === null ? 0 : s.memoryBytes / budget, 10, io),
      String(s.restarts),
      duration(s.uptimeMs),
      s.failure ?? lastExit(s.lastExit),
    ]
  })
  const body = table(['MODULE', 'STATE', 'PID', 'CPU', 'MEMORY / BUDGET', '', 'RESTARTS', 'UPTIME', 'LAST EXIT'], rows, { right: [3, 4, 6], style: io.style })
  return `${header}\n\n${body}\n${io.style.paint(90, `q quit · updated ${new Date(now.at).toISOString().slice(11, 19)}`)}\n`
}

export const top = gatewayCommand({
  usage: 'top [--interval <seconds>]',
  summary: 'a live table of modules: state, CPU, memory against budget, restarts (q quits)',
  options: { interval: { type: 'string' } },
  async run (session, parsed, io) {
    const intervalMs = (numberOption(parsed.values, 'interval') ?? 1) * 1000
    const poll = async (): Promise<{ info: Info, list: ModuleSummary[], sample: Sample }> => {
      const [info, list] = await Promise.all([session.call<Info>('core', 'info'), session.call<ModuleSummary[]>('core', 'list')])
      if (!Array.isArray(list) || !list.every(s => s !== null && typeof s === 'object')) throw new OutpostError('BAD_REPLY', 'the gateway\'s answer to core.list is not a list of modules')
      return { info, list, sample: { at: Date.now(), cpuMs: new Map(list.map(s => [s.module, s.cpuMs ?? 0])) } }
    }
    if (process.stdout.isTTY !== true || io.json) {
      const { info, list, sample } = await poll()
      io.print({ info, modules: list }, shown => frame(shown.info, shown.modules, undefined, sample, io))
      return 0
    }

    const out = process.stdout
    const stdin = process.stdin
    let stop = (): void => {}
    const quit = new Promise<void>(resolve => { stop = resolve })
    const onKey = (key: string): void => { if (key === 'q' || key === 'Q' || key === '\u0003') stop() }
    if (stdin.isTTY === true) {
      stdin.setRawMode(true)
      stdin.setEncoding('utf8')
      stdin.on('data', onKey)
      stdin.resume()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    out.write('\x1b[?1049h\x1b[?25l') // alternate screen, cursor hidden
    let previous: Sample | undefined
    let timer: NodeJS.Timeout | undefined
    let quitting = false
    const loop = (async () => {
      while (!quitting) {
        const { info, list, sample } = await poll()
        if (quitting) return
        out.write('\x1b[H' + shown(() => frame(printable(info), printable(list), previous, sample, io)).replace(/\n/g, '\x1b[K\n') + '\x1b[J')
        previous = sample
        await new Promise(resolve => { timer = setTimeout(resolve, intervalMs) })
      }
    })()
    loop.catch(() => {}) // a poll cut short by quitting
    try {
      await Promise.race([quit, loop, session.closed.then(err => { throw err })])
    } finally {
      quitting = true
      clearTimeout(timer)
      out.write('\x1b[?25h\x1b[?1049l')
      if (stdin.isTTY === true) {
        stdin.setRawMode(false)
        stdin.off('data', onKey)
        stdin.pause()
      }
    }
    return 0
  },
})
