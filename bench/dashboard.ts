// The dashboard section of docs/benchmarks.md: what a browser downloads to open the dashboard, as served
// (modules/dashboard/files.ts), plain and gzipped, against mqtt.js's browser build.
import { statSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { installRoot } from '../core/paths.js'
import { dashboardFiles } from '../modules/dashboard/files.js'

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`

export function renderDashboard (): string {
  const files = [...dashboardFiles().entries()].sort(([a], [b]) => a.localeCompare(b))
  const bytes = files.reduce((n, [, f]) => n + f.body.length, 0)
  const gzip = files.reduce((n, [, f]) => n + f.gzip.length, 0)
  const mqttJs = path.join(installRoot, 'node_modules', 'mqtt', 'dist', 'mqtt.min.js')
  const mqttBytes = statSync(mqttJs).size
  const mqttGzip = gzipSync(readFileSync(mqttJs), { level: 9 }).length
  return [
    '## Dashboard',
    '',
    'What a browser downloads to open the dashboard (docs/observability.md): every file the dashboard module',
    'serves, as served (gzip level 9 when the browser accepts it).',
    '',
    '| file | bytes | gzipped |',
    '|---|---|---|',
    ...files.map(([name, f]) => `| \`${name}\` | ${f.body.length} | ${f.gzip.length} |`),
    `| **all** | **${bytes}** (${kb(bytes)}) | **${gzip}** (${kb(gzip)}) |`,
    `| mqtt.js's browser build alone (\`mqtt/dist/mqtt.min.js\`), for comparison | ${mqttBytes} (${kb(mqttBytes)}) | ${mqttGzip} (${kb(mqttGzip)}) |`,
    '',
  ].join('\n')
}
