/// <reference lib="dom" />
// Live hooks: every message on a topic filter (default hooks/#), newest first, and a chart of each numeric
// field of their data (a temperature reading's celsius, …).
import { drawChart, h, push, replace } from './dom.js'
import type { Session } from './session.js'

const KEEP_MESSAGES = 200
const MAX_SERIES = 12

export function hooksView (session: Session): { el: HTMLElement, stop: () => void } {
  const filter = h('input', { id: 'hook-filter', value: 'hooks/#', size: 32, 'aria-label': 'topic filter' })
  const apply = h('button', { type: 'submit' }, 'watch')
  const message = h('p', { class: 'message', role: 'status' })
  const charts = h('div', { class: 'charts' })
  const list = h('ol', { class: 'messages' })
  const el = h('section', { id: 'hooks' }, h('form', { class: 'bar' }, 'topic filter ', filter, apply), message, charts, list)
  const series = new Map<string, { values: number[], canvas: HTMLCanvasElement, value: HTMLElement }>()
  let unwatch: (() => void) | undefined
  let paused = false

  const chart = (key: string, value: number): void => {
    let s = series.get(key)
    if (s === undefined) {
      if (series.size >= MAX_SERIES) return
      s = { values: [], canvas: h('canvas', { width: 240, height: 48 }), value: h('span', { class: 'value' }) }
      series.set(key, s)
      charts.append(h('figure', { 'data-series': key }, s.canvas, h('figcaption', {}, `${key}: `, s.value)))
    }
    push(s.values, value)
    s.value.textContent = String(Math.round(value * 1000) / 1000)
    s.value.dataset.value = String(value)
    drawChart(s.canvas, s.values)
  }

  const received = (topic: string, envelope: any): void => {
    if (paused) return
    const data = topic.startsWith('hooks/') && envelope !== null && typeof envelope === 'object' && 'data' in envelope ? envelope.data : envelope
    const where = topic.startsWith('hooks/') ? topic.slice('hooks/'.length) : topic
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      for (const [field, value] of Object.entries(data)) if (typeof value === 'number' && Number.isFinite(value)) chart(`${where} ${field}`, value)
    }
    let text: string
    try {
      text = JSON.stringify(data, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))
    } catch {
      text = String(data)
    }
    list.prepend(h('li', {}, h('time', {}, new Date().toLocaleTimeString()), ' ', h('code', {}, topic), ' ', (text ?? 'null').slice(0, 2000)))
    while (list.childElementCount > KEEP_MESSAGES) list.lastElementChild?.remove()
  }

  const watch = async (): Promise<void> => {
    unwatch?.()
    unwatch = undefined
    series.clear()
    replace(charts)
    replace(list)
    const wanted = filter.value.trim()
    message.textContent = `watching ${wanted}`
    try {
      unwatch = await session.watch(wanted, received)
    } catch (err) {
      message.textContent = (err as Error).message
    }
  }
  el.querySelector('form')?.addEventListener('submit', event => {
    event.preventDefault()
    void watch()
  })
  const pause = h('button', { type: 'button' }, 'pause')
  pause.addEventListener('click', () => {
    paused = !paused
    pause.textContent = paused ? 'resume' : 'pause'
  })
  el.querySelector('form')?.append(' ', pause)
  void watch()
  return { el, stop: () => unwatch?.() }
}
