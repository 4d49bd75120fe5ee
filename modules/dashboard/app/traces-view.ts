/// <reference lib="dom" />
// Traces, from the tracing module (tracing.list, tracing.show): the recent traces, and one trace's spans
// as a tree with their times. Without a tracing module the gateway answers NO_SUCH_MODULE.
import { formatMs, h, replace } from './dom.js'
import type { Session } from './session.js'

interface TraceSummary { trace: string, root: { module: string, method: string }, start: number, durationMs: number, spans: number, error: string | null }
interface Span { span: string, parent: string | null, module: string, instance: number, kind: string, name: string, start: number, durationMs: number, outcome: string, code: string | null }

export function tracesView (session: Session): { el: HTMLElement, stop: () => void } {
  const message = h('p', { class: 'message', role: 'status' })
  const body = h('tbody')
  const detail = h('div', { class: 'trace' })
  const refresh = h('button', { type: 'button' }, 'refresh')
  const el = h('section', { id: 'traces' }, h('div', { class: 'bar' }, refresh), message,
    h('table', {}, h('thead', {}, h('tr', {}, ...['trace', 'root', 'start', 'duration', 'spans', 'error'].map(t => h('th', {}, t)))), body), detail)

  const show = async (trace: string): Promise<void> => {
    try {
      const result = await session.call('tracing', 'show', { trace }) as { trace: string, spans: Span[] }
      const start = Math.min(...result.spans.map(s => s.start))
      const total = Math.max(1, ...result.spans.map(s => s.start + s.durationMs - start))
      const children = new Map<string | null, Span[]>()
      const known = new Set(result.spans.map(s => s.span))
      for (const s of result.spans) {
        const parent = s.parent !== null && known.has(s.parent) ? s.parent : null
        children.set(parent, [...(children.get(parent) ?? []), s])
      }
      const rows: HTMLElement[] = []
      const walk = (parent: string | null, depth: number): void => {
        for (const s of (children.get(parent) ?? []).sort((a, b) => a.start - b.start)) {
          const bar = h('span', { class: `bar-span ${s.outcome === 'ok' ? '' : 'failed'}` })
          bar.style.marginLeft = `${((s.start - start) / total) * 100}%`
          bar.style.width = `${Math.max(0.5, (s.durationMs / total) * 100)}%`
          rows.push(h('li', { 'data-span': s.span },
            h('span', { class: 'name' }, `${'  '.repeat(depth)}${s.kind} ${s.module}.${s.instance} ${s.name}`),
            h('span', { class: 'time' }, `${s.durationMs.toFixed(2)} ms ${s.outcome}${s.code === null ? '' : ` ${s.code}`}`),
            h('span', { class: 'timeline' }, bar)))
          walk(s.span, depth + 1)
        }
      }
      walk(null, 0)
      replace(detail, h('h3', {}, `trace ${result.trace}`), h('ol', { class: 'spans' }, ...rows))
    } catch (err) {
      replace(detail, `cannot show ${trace}: ${(err as Error).message}`)
    }
  }

  const load = async (): Promise<void> => {
    try {
      const list = await session.call('tracing', 'list', { limit: 50 }) as TraceSummary[]
      message.textContent = list.length === 0 ? 'no traces recorded yet' : ''
      replace(body, ...list.map(t => {
        const link = h('button', { type: 'button', class: 'link' }, t.trace.slice(0, 16))
        link.addEventListener('click', () => { void show(t.trace) })
        return h('tr', {}, h('td', {}, link), h('td', {}, `${t.root.module}.${t.root.method}`), h('td', {}, new Date(t.start).toLocaleTimeString()),
          h('td', {}, formatMs(t.durationMs)), h('td', {}, t.spans), h('td', {}, t.error ?? ''))
      }))
    } catch (err) {
      const code = (err as Error & { code?: string }).code
      message.textContent = code === 'NO_SUCH_MODULE'
        ? 'Tracing is not enabled on this gateway: add the tracing module to its manifest (docs/observability.md).'
        : `cannot list traces: ${(err as Error).message}`
    }
  }
  refresh.addEventListener('click', () => { void load() })
  void load()
  return { el, stop: () => {} }
}
