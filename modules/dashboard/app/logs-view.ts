/// <reference lib="dom" />
// Logs: the last lines (core.logs), then, with follow, every new line from the hook core.logs names
// (hooks/core/log/<source>), as `outpost logs -f` does.
import { h, replace } from './dom.js'
import type { Session } from './session.js'

interface LogLine { seq: number, ts: number, source: string, instance?: number, level: string, text: string }

const KEEP_LINES = 1000

export function logsView (session: Session, modules: string[]): { el: HTMLElement, stop: () => void } {
  const source = h('select', { id: 'log-source', 'aria-label': 'source' }, h('option', { value: '' }, 'all'), h('option', { value: 'core' }, 'core'), ...modules.map(m => h('option', { value: m }, m)))
  const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true })
  const lines = h('ol', { class: 'log' })
  const message = h('p', { class: 'message', role: 'status' })
  const el = h('section', { id: 'logs' }, h('div', { class: 'bar' }, 'source ', source, ' ', h('label', {}, follow, ' follow')), message, lines)
  let last = -1
  let unwatch: (() => void) | undefined

  const append = (line: LogLine): void => {
    if (typeof line?.seq !== 'number' || line.seq <= last) return
    last = line.seq
    const who = line.instance === undefined ? line.source : `${line.source}.${line.instance}`
    lines.append(h('li', { class: line.level }, h('time', {}, new Date(line.ts).toLocaleTimeString()), ` ${line.level.padEnd(5)} ${who}: ${line.text}`))
    while (lines.childElementCount > KEEP_LINES) lines.firstElementChild?.remove()
    if (follow.checked) lines.lastElementChild?.scrollIntoView({ block: 'nearest' })
  }

  const load = async (): Promise<void> => {
    unwatch?.()
    unwatch = undefined
    replace(lines)
    last = -1
    const module = source.value === '' ? undefined : source.value
    // subscribed before the backlog is read, so no line falls between; lines that arrive meanwhile wait,
    // and `seq` drops those the backlog has too
    let early: LogLine[] | null = []
    try {
      if (follow.checked) {
        unwatch = await session.watch(`hooks/core/log/${module ?? '+'}`, (_topic, envelope: { data?: LogLine }) => {
          if (early !== null) early.push(envelope?.data as LogLine)
          else append(envelope?.data as LogLine)
        })
      }
      const result = await session.call('core', 'logs', { lines: 200, ...(module === undefined ? {} : { module }) }) as { lines: LogLine[] }
      for (const line of [...result.lines, ...early]) append(line)
      message.textContent = ''
    } catch (err) {
      message.textContent = `cannot read the logs: ${(err as Error).message}`
    }
    early = null
  }
  source.addEventListener('change', () => { void load() })
  follow.addEventListener('change', () => { void load() })
  void load()
  return { el, stop: () => unwatch?.() }
}
