// Release bundles for the release tests: built once per test process into a temp folder (downloads kept in
// the project's .cache/release, outside git), unpacked, and a bundle's gateway started as a real process.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildRelease, projectRoot } from '../../release/build.js'
import type { BuildResult } from '../../release/build.js'
import { targetNamed } from '../../core/release/targets.js'
import type { Target } from '../../core/release/targets.js'
import { waitFor } from '../helpers/wait.js'

export const cacheDir = path.join(projectRoot, '.cache', 'release')

export function target (name: string): Target {
  const t = targetNamed(name)
  if (t === undefined) throw new Error(`no target ${name}`)
  return t
}

export async function build (names: string[], version?: string): Promise<{ out: string, results: BuildResult[] }> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'outpost-release-'))
  // test files build at once: each stages in a folder of its own (the downloads in cacheDir are shared)
  const workDir = path.join(out, 'work')
  const results = await buildRelease({ targets: names.map(target), outDir: out, cacheDir, workDir, ...(version === undefined ? {} : { version }) })
  rmSync(workDir, { recursive: true, force: true })
  return { out, results }
}

export function built (results: BuildResult[], name: string): { file: string, bytes: number, files: number } {
  const r = results.find(x => x.target === name)
  if (r === undefined || 'error' in r) throw new Error(`${name} was not built: ${r === undefined ? 'not asked' : r.error}`)
  return r
}

/** unpacks a bundle with the system's tar; returns the bundle folder */
export function unpack (file: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-unpacked-'))
  execFileSync('tar', ['-xzf', file, '-C', dir])
  return path.join(dir, path.basename(file, '.tar.gz'))
}

export interface RunningBundle {
  child: ChildProcess
  url: string
  output: () => string
  stop (): Promise<number | null>
}

/**
 * Runs `outpost run` from a bundle folder on a simulated gateway. `runner` prefixes the command (an
 * emulator); `manifest` adds to the default test manifest.
 */
export async function runBundle (folder: string, options: { argv: string[], env?: Record<string, string>, modules: unknown[], startMs: number }): Promise<RunningBundle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-bundle-run-'))
  mkdirSync(path.join(dir, 'run'))
  const manifest = path.join(dir, 'gateway.json')
  writeFileSync(manifest, JSON.stringify({
    gateway: 'bundle',
    board: 'sim',
    runtimeDir: path.join(dir, 'run'),
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules: options.modules,
  }))
  const [file, ...args] = [...options.argv, 'run', manifest]
  const child = spawn(file ?? '', args, { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', chunk => { output += String(chunk) })
  child.stderr?.on('data', chunk => { output += String(chunk) })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const url = await waitFor(`the bundle's broker to listen (output so far: ${output.slice(-500)})`, () => /(mqtt:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], options.startMs)
  return {
    child,
    url,
    output: () => output,
    async stop () {
      child.kill('SIGTERM')
      return await exited
    },
  }
}
