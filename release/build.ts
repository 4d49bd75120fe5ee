// `npm run release`: one self-contained tarball per target (docs/deploy.md). Each holds the target's Node
// binary (bin/node), the compiled project with its production dependencies and the target's prebuilt
// addons (app/), the installer and systemd unit, and release.json + SHA256SUMS listing every file.
//
//   node build/release/build.js [--target linux-arm64 …] [--out dist] [--version 1.2.3]
//                               [--node linux-armv7l=<node binary or Node.js tarball>] [--cache .cache/release]
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { OutpostError } from '../core/errors.js'
import { VERSION_PATTERN, listFiles, writeReleaseFiles } from '../core/release/contents.js'
import { pack } from '../core/release/pack.js'
import { targetNamed, targets } from '../core/release/targets.js'
import type { Target } from '../core/release/targets.js'
import { installDependencies, productionDependencies } from './dependencies.js'
import { provideNode } from './node-binary.js'
import { npmStart } from './npm-start.js'

export const projectRoot = path.resolve(fileURLToPath(new URL('../../', import.meta.url)))

export interface BuildOptions {
  targets: Target[]
  outDir: string
  cacheDir: string
  /** defaults to package.json's version */
  version?: string
  /** where bundles are staged; default <cacheDir>/work (builds running at once each need their own) */
  workDir?: string
  /** target name → a node binary or Node.js tarball, for targets the registry has no Node package for */
  nodeFor?: Record<string, string>
}

export type BuildResult = { target: string, file: string, bytes: number, files: number } | { target: string, error: string }

// The bundle's `outpost`: the bundle's own node running the bundle's CLI, wherever the bundle was unpacked
// (readlink -f: /opt/outpost/current/bin/outpost resolves to the release it points at when it starts), with
// the environment and node flags `npm start` gives the core (docs/architecture.md, "The core's own memory").
function wrapper (): string {
  const { env, flags } = npmStart(projectRoot)
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value} `).join('')
  return `#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
${assignments}exec "$here/node" ${flags.map(flag => `${flag} `).join('')}"$here/../app/build/core/cli/main.js" "$@"
`
}

function git (args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}

function compile (dest: string): void {
  rmSync(dest, { recursive: true, force: true })
  const tsc = path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', path.join(projectRoot, 'tsconfig.release.json'), '--outDir', dest], { stdio: 'inherit' })
}

/** regular files 0644, programs 0755, whatever the checkout's umask was */
function normaliseModes (dir: string): void {
  for (const file of listFiles(dir)) chmodSync(path.join(dir, file.path), file.mode)
}

async function buildTarget (target: Target, ctx: { compiled: string, work: string, version: string, commit: string, dirty: boolean, mtime: number, nodeVersion: string, options: BuildOptions }): Promise<BuildResult> {
  const folder = `outpost-${ctx.version}-${target.name}`
  const staging = path.join(ctx.work, folder)
  rmSync(staging, { recursive: true, force: true })
  const app = path.join(staging, 'app')
  mkdirSync(path.join(staging, 'bin'), { recursive: true })
  mkdirSync(path.join(app, 'core'), { recursive: true })

  const node = provideNode(target, ctx.nodeVersion, path.join(staging, 'bin', 'node'), { cacheDir: path.join(ctx.options.cacheDir, 'npm'), given: ctx.options.nodeFor?.[target.name] })
  writeFileSync(path.join(staging, 'bin', 'outpost'), wrapper(), { mode: 0o755 })

  cpSync(ctx.compiled, path.join(app, 'build'), { recursive: true })
  cpSync(path.join(projectRoot, 'boards'), path.join(app, 'boards'), { recursive: true })
  copyFileSync(path.join(projectRoot, 'core', 'default-manifest.json'), path.join(app, 'core', 'default-manifest.json'))
  const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { name: string, license: string, dependencies: Record<string, string> }
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: pkg.name, version: ctx.version, type: 'module', license: pkg.license, dependencies: pkg.dependencies }, null, 2) + '\n')
  installDependencies(productionDependencies(path.join(projectRoot, 'package-lock.json'), target), {
    projectRoot,
    appDir: app,
    target,
    cacheDir: path.join(ctx.options.cacheDir, 'npm'),
  })
  const deploy = path.join(projectRoot, 'deploy')
  if (existsSync(deploy)) cpSync(deploy, staging, { recursive: true })

  normaliseModes(staging)
  const { files } = writeReleaseFiles(staging, { format: 1, name: 'outpost', version: ctx.version, commit: ctx.commit, dirty: ctx.dirty, target: target.name, node })

  const file = path.join(ctx.options.outDir, `${folder}.tar.gz`)
  await pack(ctx.work, folder, file, ctx.mtime)
  rmSync(staging, { recursive: true, force: true })
  return { target: target.name, file, bytes: statSync(file).size, files: files.length + 1 }
}

export async function buildRelease (options: BuildOptions): Promise<BuildResult[]> {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string, devDependencies: Record<string, string> }
  const version = options.version ?? pkg.version
  if (!VERSION_PATTERN.test(version)) throw new OutpostError('RELEASE_BUILD', `version "${version}" is not a release version (letters, digits, ".", "+", "_", "-"; at most 64)`)
  const nodeVersion = pkg.devDependencies.node
  if (nodeVersion === undefined || !/^\d+\.\d+\.\d+$/.test(nodeVersion)) throw new OutpostError('RELEASE_BUILD', 'package.json pins no exact node version in devDependencies')
  const work = options.workDir ?? path.join(options.cacheDir, 'work')
  mkdirSync(work, { recursive: true })
  mkdirSync(options.outDir, { recursive: true })
  const compiled = path.join(work, 'compiled')
  compile(compiled)
  const ctx = {
    compiled,
    work,
    version,
    commit: git(['rev-parse', 'HEAD']),
    dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    mtime: Number(git(['log', '-1', '--format=%ct'])) || 0,
    nodeVersion,
    options,
  }
  const results: BuildResult[] = []
  for (const target of options.targets) {
    try {
      results.push(await buildTarget(target, ctx))
    } catch (err) {
      if (!(err instanceof OutpostError)) throw err
      results.push({ target: target.name, error: err.message })
    }
  }
  return results
}

async function main (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', multiple: true },
      out: { type: 'string', default: path.join(projectRoot, 'dist') },
      cache: { type: 'string', default: path.join(projectRoot, '.cache', 'release') },
      version: { type: 'string' },
      node: { type: 'string', multiple: true },
    },
    strict: true,
  })
  const chosen = (values.target ?? targets.map(t => t.name)).map(name => {
    const target = targetNamed(name)
    if (target === undefined) throw new Error(`unknown target "${name}" (targets: ${targets.map(t => t.name).join(', ')})`)
    return target
  })
  const nodeFor = Object.fromEntries((values.node ?? []).map(pair => {
    const at = pair.indexOf('=')
    if (at < 1) throw new Error(`--node takes <target>=<file>, not "${pair}"`)
    return [pair.slice(0, at), pair.slice(at + 1)]
  }))
  const results = await buildRelease({ targets: chosen, outDir: path.resolve(values.out), cacheDir: path.resolve(values.cache), version: values.version, nodeFor })
  for (const r of results) {
    process.stdout.write('error' in r
      ? `${r.target}: NOT BUILT: ${r.error}\n`
      : `${r.target}: ${path.relative(process.cwd(), r.file)}  ${(r.bytes / 1048576).toFixed(1)} MiB, ${r.files} files\n`)
  }
  // a target asked for by name must build; by default, one without a Node package is reported and skipped
  return results.some(r => 'error' in r && values.target !== undefined) || results.every(r => 'error' in r) ? 1 : 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`release: ${(err as Error).message}\n`)
    process.exitCode = 1
  })
}
