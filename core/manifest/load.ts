// Loading a manifest: read → parse → schema → cross-checks (names, order, entries, module configs, board
// resources, memory). Every problem found is reported at once, each with file, path and expectation; a
// manifest with any problem starts nothing.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { z } from 'zod'
import { OutpostError } from '../errors.js'
import { resolveEntry } from '../modules/entry.js'
import type { ResolvedEntry } from '../modules/entry.js'
import { manifestSchema } from './schema.js'
import type { Manifest, ModuleSpec } from './schema.js'
import { manifestError, zodProblems } from './errors.js'
import type { Problem } from './errors.js'

/** What a shipped driver or module's compiled schema.js exports. */
export interface ModuleSchemaFile {
  config?: z.ZodType
  /** the board resources a configuration claims, e.g. [{ kind: 'gpio', resource: 'GPIO17' }] */
  claims?: (config: any) => Array<{ kind: 'gpio' | 'uart' | 'i2c' | 'onewire', resource: string }>
}

export interface LoadedModule {
  spec: ModuleSpec
  entry: ResolvedEntry
  schema: ModuleSchemaFile
}

export interface LoadedManifest {
  file: string
  dir: string
  manifest: Manifest
  modules: LoadedModule[]
}

export function parseManifestText (text: string, file: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    // V8's message already names the token and, where it knows them, the line and column
    throw new OutpostError('MANIFEST_SYNTAX', `invalid manifest ${file}: not valid JSON: ${(err as Error).message}`, { details: { file } })
  }
}

function checkOrder (modules: ModuleSpec[]): Problem[] {
  const problems: Problem[] = []
  const index = new Map<string, number>()
  modules.forEach((m, i) => {
    const first = index.get(m.name)
    if (first !== undefined) problems.push({ path: `modules[${i}] (${m.name}).name`, message: `duplicate module name, already used by modules[${first}]` })
    else index.set(m.name, i)
    if (m.name === 'core') problems.push({ path: `modules[${i}].name`, message: '"core" is reserved for the gateway core itself' })
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

export interface LoadOptions {
  /** further checks that need the board (resources, memory), run after the manifest itself is sound */
  checkBoard?: (loaded: LoadedManifest) => Problem[]
}

export async function validateManifest (input: unknown, file: string, options: LoadOptions = {}): Promise<LoadedManifest> {
  const parsed = manifestSchema.safeParse(input)
  if (!parsed.success) throw manifestError('MANIFEST_INVALID', file, zodProblems(parsed.error, input))
  const manifest = parsed.data
  const problems = checkOrder(manifest.modules)
  const dir = path.dirname(file)
  const modules: LoadedModule[] = []
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
  const loaded: LoadedManifest = { file, dir, manifest, modules }
  if (problems.length === 0 && options.checkBoard !== undefined) problems.push(...options.checkBoard(loaded))
  if (problems.length > 0) throw manifestError('MANIFEST_INVALID', file, problems)
  return loaded
}

export async function loadManifest (file: string, options: LoadOptions = {}): Promise<LoadedManifest> {
  const absolute = path.resolve(file)
  let text: string
  try {
    text = readFileSync(absolute, 'utf8')
  } catch (err) {
    throw new OutpostError('MANIFEST_NOT_FOUND', `cannot read manifest ${absolute}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { details: { file: absolute }, cause: err })
  }
  return validateManifest(parseManifestText(text, absolute), absolute, options)
}
