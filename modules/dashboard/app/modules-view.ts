/// <reference lib="dom" />
// The modules page: state (live, from the retained state/<module> documents), memory against budget as a
// chart (from core.list, polled), restarts, last exit; start/stop/restart for admins.
import { drawChart, formatMs, h, MiB, push, replace } from './dom.js'
import type { Session } from './session.js'

interface Summary {
  module: string
  state: string
  budgetMiB: number
  memoryBytes: number | null
  uptimeMs: number | null
  restarts: number
  lastExit: { reason: string, code: number | null, signal: string | null } | null
  failure: string | null
}

const POLL_MS = 2000

export function modulesView (session: Session, admin: boolean): { el: HTMLElement, stop: () => void } {
  const body = h('tbody')
  const message = h('p', { class: 'message', role: 'status' })
  const el = h('section', { id: 'modules' },
    h('table', {}, h('thead', {}, h('tr', {}, ...['module', 'state', 'memory / budget', '', 'uptime', 'restarts', 'last exit', admin ? 'actions' : ''].map(t => h('th', {}, t)))), body),
    message)
  const rows = new Map<string, { state: HTMLElement, memory: HTMLElement, chart: HTMLCanvasElement, uptime: HTMLElement, restarts: HTMLElement, lastExit: HTMLElement, history: number[] }>()

  const act = async (op: string, module: string, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true
    message.textContent = `${op} ${module}…`
    try {
      const result = await session.call('core', op, { module }, 30_000) as Summary
      message.textContent = `${op} ${module}: ${result.state}`
    } catch (err) {
      message.textContent = `${op} ${module}: ${(err as Error & { code?: string }).code ?? 'ERROR'}: ${(err as Error).message}`
    } finally {
      button.disabled = false
    }
  }

  const rowFor = (module: string): NonNullable<ReturnType<typeof rows.get>> => {
    let row = rows.get(module)
    if (row !== undefined) return row
    row = {
      state: h('td', { class: 'state', 'data-module': module }),
      memory: h('td', { class: 'memory' }),
      chart: h('canvas', { width: 160, height: 28, 'aria-label': `memory of ${module} against its budget` }),
      uptime: h('td'),
      restarts: h('td', { class: 'restarts' }),
      lastExit: h('td'),
      history: [],
    }
    const actions = admin
      ? h('td', {}, ...['start', 'stop', 'restart'].map(op => {
        const button = h('button', { type: 'button', class: op, 'data-module': module }, op)
        button.addEventListener('click', () => { void act(op, module, button) })
        return button
      }))
      : h('td')
    body.append(h('tr', { 'data-module': module }, h('th', { scope: 'row' }, module), row.state, row.memory, h('td', {}, row.chart), row.uptime, row.restarts, row.lastExit, actions))
    rows.set(module, row)
    return row
  }

  const show = (s: Summary): void => {
    const row = rowFor(s.module)
    row.state.textContent = s.state
    row.state.dataset.state = s.state
    const budget = s.budgetMiB * MiB
    row.memory.textContent = s.memoryBytes === null ? `- / ${s.budgetMiB} MiB` : `${(s.memoryBytes / MiB).toFixed(1)} / ${s.budgetMiB} MiB`
    push(row.history, s.memoryBytes ?? 0)
    drawChart(row.chart, row.history, budget)
    row.uptime.textContent = formatMs(s.uptimeMs)
    row.restarts.textContent = String(s.restarts)
    row.lastExit.textContent = s.failure ?? (s.lastExit === null ? '-' : `${s.lastExit.reason}${s.lastExit.code === null ? '' : ` (${s.lastExit.code})`}${s.lastExit.signal === null ? '' : ` (${s.lastExit.signal})`}`)
  }

  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const poll = async (): Promise<void> => {
    try {
      const list = await session.call('core', 'list') as Summary[]
      for (const s of list) show(s)
      for (const module of rows.keys()) {
        if (!list.some(s => s.module === module)) {
          body.querySelector(`tr[data-module="${CSS.escape(module)}"]`)?.remove()
          rows.delete(module)
        }
      }
    } catch (err) {
      replace(message, `cannot list modules: ${(err as Error).message}`)
    }
    if (!stopped) timer = setTimeout(() => { void poll() }, POLL_MS)
  }
  void poll()
  // state changes as they happen (stopping, starting, …), between polls
  let unwatch: (() => void) | undefined
  session.watch('state/+', (_topic, doc: { module?: string, state?: string }) => {
    if (typeof doc?.module !== 'string' || typeof doc.state !== 'string') return
    const row = rows.get(doc.module)
    if (row === undefined) return
    row.state.textContent = doc.state
    row.state.dataset.state = doc.state
  }).then(u => { unwatch = u }, (err: Error) => { message.textContent = err.message })
  return {
    el,
    stop () {
      stopped = true
      clearTimeout(timer)
      unwatch?.()
    },
  }
}
