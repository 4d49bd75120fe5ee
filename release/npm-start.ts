// How `npm start` runs the core, read from package.json: the one place the core's environment and node
// flags are written (docs/architecture.md, "The core's own memory"). The benchmarks run the core this way,
// and the release bundle's `outpost` wrapper is written from it.
import { readFileSync } from 'node:fs'
import path from 'node:path'

/** the environment `npm start` sets before `node`, and the flags it passes to node before the core's script */
export interface CoreLaunch {
  env: Record<string, string>
  flags: string[]
}

export function npmStart (root: string): CoreLaunch {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts?: { start?: string } }
  const last = (pkg.scripts?.start ?? '').split('&&').pop() ?? ''
  const words = last.trim().split(/\s+/).filter(word => word !== 'exec')
  const node = words.indexOf('node')
  const script = words.findIndex(word => word.endsWith('core/cli/main.js'))
  const assignments = words.slice(0, Math.max(0, node)).map(word => /^([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(word))
  if (node < 0 || script < node || assignments.some(a => a === null)) throw new Error(`cannot read how npm start runs the core from "${pkg.scripts?.start}"`)
  return {
    env: Object.fromEntries(assignments.map(a => [a?.[1] ?? '', a?.[2] ?? ''])),
    flags: words.slice(node + 1, script),
  }
}
