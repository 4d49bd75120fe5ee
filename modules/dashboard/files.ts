// The files the dashboard serves, read once at start: the page, its style sheet and the compiled scripts of
// app/, each also gzipped. The benchmark report measures the same set (bench/dashboard.ts).
import { readFileSync, readdirSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { INDEX_HTML, STYLE_CSS } from './page.js'

export interface File { type: string, body: Buffer, gzip: Buffer }

export function file (type: string, body: Buffer): File {
  return { type, body, gzip: gzipSync(body, { level: 9 }) }
}

/** every file the server knows, by URL path: the page, its style sheet, and the compiled scripts of app/ */
export function dashboardFiles (): Map<string, File> {
  const files = new Map<string, File>()
  files.set('/', file('text/html; charset=utf-8', Buffer.from(INDEX_HTML)))
  files.set('/style.css', file('text/css; charset=utf-8', Buffer.from(STYLE_CSS)))
  const dir = new URL('./app/', import.meta.url)
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.js')) files.set(`/${name}`, file('text/javascript; charset=utf-8', readFileSync(new URL(name, dir))))
  }
  return files
}

