// The manifest as the operator wrote it (no defaults filled in), changed one management operation at a
// time: edit a copy → validate it exactly as at start → write it atomically → only then is it the manifest.
// A change that fails at any step leaves the file, and the gateway, as they were.
import fs from 'node:fs'
import { OutpostError } from '../errors.js'
import type { LoadedManifest } from '../manifest/load.js'
import { writeFileAtomic } from './atomic-write.js'

export type RawModule = Record<string, unknown> & { name: string }
export type RawManifest = Record<string, unknown> & { modules?: RawModule[] }

export interface ManifestStore {
  readonly file: string
  /** the module's entry as written in the manifest */
  rawModule (name: string): RawModule | undefined
  /** applies `edit` to a copy, validates, writes; resolves to the validated manifest now in force */
  change (edit: (doc: RawManifest) => void): Promise<LoadedManifest>
}

export function createManifestStore (file: string, validate: (doc: RawManifest) => Promise<LoadedManifest>): ManifestStore {
  let text = fs.readFileSync(file, 'utf8')
  let doc = JSON.parse(text) as RawManifest

  // changes of different modules run at once (one queue per module): read-modify-write stays one at a time
  let tail: Promise<unknown> = Promise.resolve()
  const change = async (edit: (doc: RawManifest) => void): Promise<LoadedManifest> => {
    const next = structuredClone(doc)
    next.modules ??= []
    edit(next)
    const loaded = await validate(next)
    let onDisk: string
    try {
      onDisk = await fs.promises.readFile(file, 'utf8')
    } catch (err) {
      throw new OutpostError('MANIFEST_WRITE', `cannot read manifest ${file} before changing it: ${(err as Error).message}; nothing was changed`, { details: { file }, cause: err })
    }
    if (onDisk !== text) {
      // someone edited the file by hand since the gateway loaded it: writing ours would silently drop that edit
      throw new OutpostError('CONFLICT', `manifest ${file} was edited on disk since the gateway loaded it; restart the gateway to load that edit (or undo it) before changing the gateway over the API`, { details: { file } })
    }
    const nextText = JSON.stringify(next, null, 2) + '\n'
    try {
      await writeFileAtomic(file, nextText)
    } catch (err) {
      throw new OutpostError('MANIFEST_WRITE', `cannot write manifest ${file}: ${(err as Error).message}; nothing was changed`, { details: { file }, cause: err })
    }
    doc = next
    text = nextText
    return loaded
  }

  return {
    file,
    rawModule: name => doc.modules?.find(m => m.name === name),
    change (edit) {
      const next = tail.then(() => change(edit))
      tail = next.catch(() => {})
      return next
    },
  }
}

/** RFC 7386 JSON merge patch: objects merge key by key, null deletes, anything else replaces. */
export function mergePatch (target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target as Record<string, unknown> } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}
