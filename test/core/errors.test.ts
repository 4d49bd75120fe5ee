// The error registry and its documentation list the same codes with the same meanings, both ways.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { errorCodes } from '../../core/errors.js'
import { installRoot } from '../../core/paths.js'

function documented (file: string): Map<string, string> {
  const rows = new Map<string, string>()
  for (const match of readFileSync(path.join(installRoot, 'docs', file), 'utf8').matchAll(/^\| `([A-Z_]+)` \| (.+) \|$/gm)) {
    rows.set(match[1] ?? '', match[2] ?? '')
  }
  return rows
}

test('docs/errors.md documents every registered code with its meaning, and nothing else', () => {
  const docs = documented('errors.md')
  assert.deepEqual([...docs.keys()].sort(), Object.keys(errorCodes).sort())
  for (const [code, meaning] of Object.entries(errorCodes)) assert.equal(docs.get(code), meaning, code)
})

test('every wire code in docs/protocol.md is registered with the same meaning', () => {
  const docs = documented('protocol.md')
  assert.ok(docs.size >= 9, 'the wire codes table was found')
  for (const [code, meaning] of docs) assert.equal((errorCodes as Record<string, string>)[code], meaning, code)
})
