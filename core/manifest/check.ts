// The manifest checks: schema → cross-checks (names, order, entries, module configs) → the board (resources,
// memory). Every problem found is reported at once, each with file, path and expectation. They load zod
// and every shipped schema, so they run in the short-lived checker process (check-process.ts), never in
// the core (load.ts).
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { z } from 'zod'
import { boardOf, boardProblems } from '../boards/gateway-board.js'
import type { CoreLog } from '../log.js'
import { resolveEntry } from '../modules/entry.js'
import type { ResolvedEntry } from '../modules/entry.js'
import { manifestSchema } from './schema.js'
import type { ModuleSpec } from './schema.js'
import { manifestError, zodProblems } from './errors.js'
import { UPLINK_MODULE, uplinkModule } from './uplink.js'
import { METRICS_MODULE, metricsModule } from './metrics.js'
import { checkUsers } from './users.js'
import type { Problem } from './errors.js'
import type { LoadedManifest, LoadedModule } from './load.js'

/** What a shipped driver or module's compiled schema.js exports. */
export interface ModuleSchemaFile {
  config?: z.ZodType
  /** the board resources a configuration claims, e.g. [{ kind: 'gpio', resource: 'GPIO17' }] */
  claims?: (config: any) => Array<{ kind: 'gpio' | 'uart' | 'i2c' | 'onewire', resource: string }>
}

export interface CheckedModule extends LoadedModule {
  schema: ModuleSchemaFile
}

export interface CheckedManifest extends LoadedManifest {
  modules: CheckedModule[]
}

function checkOrder (modules: ModuleSpec[]): Problem[] {
  const problems: Problem[] = []
  const index = new Map<string, number>()
  modules.forEach((m, i) => {
    const first = index.get(m.name)
    if (first !== undefined) problems.push({ path: `modules[${i}] (${m.name}).name`, message: `duplicate module name, already used by modules[${first}]` })
    else index.set(m.name, i)
    if (m.name === 'core') problems.push({ path: `modules[${i}].name`, message: '"core" is reserved for the gateway core itself' })
    if (m.name === UPLINK_MODULE) problems.push({ path: `modules[${i}].name`, message: '"uplink" is reserved for the built-in uplink module (the manifest\'s "uplink" section)' })
    // viewers may call the tracing module's read methods (access.ts): the name is the shipped module's alone
    if (m.name === 'tracing' && m.entry !== 'modules/tracing') problems.push({ path: `modules[${i}] (tracing)`, message: '"tracing" is reserved for the shipped tracing module: its entry must be "modules/tracing"' })
    if (m.name === METRICS_MODULE) problems.push({ path: `modules[${i}].name`, message: '"metrics" is reserved for the built-in metrics module (the manifest\'s "metrics" section)' })
    if ((m.entry === undefined) === (m.command === undefined)) problems.push({ path: `modules[${i}] (${m.name})`, message: 'expected exactly one of "entry" or "command"' })
    m.after.forEach((dep, j) => {
      if (!index.has(dep) && !modules.some(other => other.name === dep)) problems.push({ path: `modules[${i}] (${m.name}).after[${j}]`, message: `no module named "${dep}" in this manifest` })
    })
  })
  // a dependency cycle can never start: name it
  const visiting = new Set<string>()
  const done = new Set<string>()
  const byName = new Map(modules.map(m => [m.name, m]))
  const visit = (name: string, trail: string[]): void => {
    if (done.has(name)) return
    if (visiting.has(name)) {
      problems.push({ path: 'modules', message: `"after" dependencies form a cycle: ${[...trail.slice(trail.indexOf(name)), name].join(' → ')}` })
      return
    }
    visiting.add(name)
    for (const dep of byName.get(name)?.after ?? []) visit(dep, [...trail, name])
    visiting.delete(name)
    done.add(name)
  }
  for (const m of modules) visit(m.name, [])
  return problems
}

/**
 * The manifest with defaults filled in, checked against its board (named, or detected: `log` hears which).
 * Throws MANIFEST_INVALID listing every problem, or the board's own error when the board cannot be loaded.
 */
export async function checkManifest (input: unknown, file: string, log: Pick<CoreLog, 'info' | 'warn'>): Promise<CheckedManifest> {
  const parsed = manifestSchema.safeParse(input)
  if (!parsed.success) throw manifestError('MANIFEST_INVALID', file, zodProblems(parsed.error, input))
  const manifest = parsed.data
  const problems = checkOrder(manifest.modules)
  const dir = path.dirname(file)
  const uplink = uplinkModule(manifest, dir)
  problems.push(...uplink.problems)
  if (uplink.spec !== undefined) manifest.modules.push(uplink.spec)
  const metrics = metricsModule(manifest)
  if (metrics !== undefined) manifest.modules.push(metrics)
  const modules: CheckedModule[] = []
  for (const [i, spec] of manifest.modules.entries()) {
    if ((spec.entry === undefined) === (spec.command === undefined)) continue
    let entry: ResolvedEntry
    try {
      entry = resolveEntry(spec, dir)
    } catch (err) {
      problems.push({ path: `modules[${i}] (${spec.name}).${spec.entry === undefined ? 'command' : 'entry'}`, message: (err as Error).message })
      continue
    }
    const schema: ModuleSchemaFile = entry.schemaFile === undefined ? {} : await import(pathToFileURL(entry.schemaFile).href) as ModuleSchemaFile
    if (schema.config !== undefined) {
      const checked = schema.config.safeParse(spec.config)
      if (checked.success) spec.config = checked.data as Record<string, unknown>
      else problems.push(...zodProblems(checked.error, spec.config, ['modules', i, 'config'], input))
    }
    modules.push({ spec, entry, schema })
  }
  const users = checkUsers(manifest, file)
  problems.push(...users.problems)
  if (problems.length > 0) throw manifestError('MANIFEST_INVALID', file, problems)
  for (const module of modules) {
    const runAs = users.runAs.get(module.spec.name)
    if (runAs !== undefined) module.runAs = runAs
  }
  // the board is looked up only for a manifest that is sound by itself
  const board = boardOf(manifest.board, log)
  const checked: CheckedManifest = { file, dir, manifest, modules, board, ...(users.moduleGid === undefined ? {} : { moduleGid: users.moduleGid }) }
  problems.push(...boardProblems(checked))
  if (problems.length > 0) throw manifestError('MANIFEST_INVALID', file, problems)
  return checked
}
