// Resolves a manifest entry to the program a module process runs. Shipped drivers and modules are named
// `drivers/<name>` / `modules/<name>` and run from their compiled JavaScript (never a TypeScript loader).
import { existsSync } from 'node:fs'
import path from 'node:path'
import { OutpostError } from '../errors.js'
import { buildRoot } from '../paths.js'
import type { ModuleSpec } from '../manifest/schema.js'

export interface ResolvedEntry {
  /** node entries: the script; the core adds the node binary and per-module V8 flags */
  script?: string
  /** non-node entries: the whole argv */
  command?: string[]
  /** compiled schema file of a shipped driver or module (config schema and resource claims) */
  schemaFile?: string
  cwd: string
}

const SHIPPED = /^(drivers|modules)\/[a-z][a-z0-9-]*$/

export function resolveEntry (spec: Pick<ModuleSpec, 'name' | 'entry' | 'command'>, manifestDir: string): ResolvedEntry {
  if (spec.command !== undefined) {
    const [program, ...args] = spec.command
    const resolved = program !== undefined && (program.startsWith('./') || program.startsWith('../')) ? path.resolve(manifestDir, program) : program
    return { command: [resolved ?? '', ...args], cwd: manifestDir }
  }
  const entry = spec.entry ?? ''
  if (SHIPPED.test(entry)) {
    const dir = path.join(buildRoot, entry)
    const script = path.join(dir, 'index.js')
    if (!existsSync(script)) {
      throw new OutpostError('ENTRY_NOT_FOUND', `module ${spec.name}: entry "${entry}" has no compiled program at ${script} (is it spelt right? has \`npm run build\` run?)`)
    }
    const schemaFile = path.join(dir, 'schema.js')
    return existsSync(schemaFile) ? { script, schemaFile, cwd: dir } : { script, cwd: dir }
  }
  const script = path.resolve(manifestDir, entry)
  if (!existsSync(script)) throw new OutpostError('ENTRY_NOT_FOUND', `module ${spec.name}: entry "${entry}" resolves to ${script}, which does not exist`)
  if (!/\.(c|m)?js$/.test(script)) throw new OutpostError('ENTRY_NOT_FOUND', `module ${spec.name}: entry "${entry}" is not a .js file; use "command" for programs in other languages`)
  return { script, cwd: path.dirname(script) }
}
