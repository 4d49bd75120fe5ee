/// <reference lib="dom" />
// Building the page: elements with text content only (never HTML from data, so nothing a module publishes
// can inject markup), and the one chart the pages draw.

type Child = Node | string | number | null | undefined | false

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string | number | boolean | ((event: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.slice(2), value)
    else if (value === true) el.setAttribute(key, '')
    else if (value !== false) el.setAttribute(key, String(value))
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(typeof child === 'number' ? String(child) : child)
  return el
}

export function replace (el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map(c => (typeof c === 'number' ? String(c) : c)))
}

export const MiB = 1024 * 1024

export function formatMs (ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

/**
 * A line chart of the last values on a canvas. With `limit`, the scale is 0..limit and the limit is drawn
 * as a line at the top (memory against budget); without, the scale follows the values.
 */
export function drawChart (canvas: HTMLCanvasElement, values: number[], limit?: number): void {
  const ctx = canvas.getContext('2d')
  if (ctx === null) return
  const { width, height } = canvas
  ctx.clearRect(0, 0, width, height)
  if (values.length === 0) return
  let low = limit === undefined ? Math.min(...values) : 0
  let high = limit === undefined ? Math.max(...values) : Math.max(limit, ...values)
  if (high - low < 1e-9) {
    low -= 0.5
    high += 0.5
  }
  const y = (v: number): number => height - 2 - ((v - low) / (high - low)) * (height - 4)
  if (limit !== undefined) {
    ctx.strokeStyle = '#c0392b'
    ctx.beginPath()
    ctx.moveTo(0, y(limit))
    ctx.lineTo(width, y(limit))
    ctx.stroke()
  }
  ctx.strokeStyle = '#2471a3'
  ctx.beginPath()
  const step = width / Math.max(1, values.length - 1)
  values.forEach((v, i) => (i === 0 ? ctx.moveTo(0, y(v)) : ctx.lineTo(i * step, y(v))))
  ctx.stroke()
}

/** keeps the last `max` values */
export function push (values: number[], value: number, max = 120): void {
  values.push(value)
  if (values.length > max) values.splice(0, values.length - max)
}
