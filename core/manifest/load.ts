// Loading a manifest into the core: read → parse → check. The checks (check.ts: schema, names, order,
// entries, module configs, board resources, memory) run in a short-lived checker process (checker.ts), so
// the core never loads zod. Every problem is reported at once, each with file, path and expectation; a
// manifest with any problem starts nothing.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { Board } from '../boards/schema.js'
import { OutpostError } from '../errors.js'
import type { CoreLog } from '../log.js'
import type { ResolvedEntry } from '../modules/entry.js'
import { runChecker } from './checker.js'
import type { Manifest, ModuleSpec } from './schema.js'
import type { RunAs } from './users.js'

export interface LoadedModule {
  spec: ModuleSpec
  entry: ResolvedEntry
  /** the user it runs as, when not the core's own (users.ts) */
  runAs?: RunAs
}

export interface LoadedManifest {
  file: string
  dir: string
  manifest: Manifest
  modules: LoadedModule[]
  /** the definition of the board the manifest was checked against (named in it, or detected) */
  board: Board
  /** `moduleGroup`'s id: the group of the runtime folder and the module socket */
  moduleGid?: number
}

export interface LoadOptions {
  /** hears what the checks log (board auto-detection says what it found); by default nobody does */
  log?: Pick<CoreLog, 'info' | 'warn'>
}

export function parseManifestText (text: string, file: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    // V8's message already names the token and, where it knows them, the line and column
    throw new OutpostError('MANIFEST_SYNTAX', `invalid manifest ${file}: not valid JSON: ${(err as Error).message}`, { details: { file } })
  }
}

export function validateManifest (input: unknown, file: string, options: LoadOptions = {}): Promise<LoadedManifest> {
  return runChecker({ input, file }, options.log)
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
