// The core never loads zod: manifest checks run in the short-lived checker process, at start and for every
// management change, and the management API checks its arguments by hand.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

test('a running gateway, checking its manifest at start and on a change, never loads zod', async () => {
  const script = fileURLToPath(new URL('./lean-core.js', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 60_000 })
  const { packages, accepted, refused } = JSON.parse(stdout)
  assert.ok(packages.includes('aedes'), `the hook saw the gateway's packages: ${packages.join(', ')}`)
  assert.ok(!packages.includes('zod'), `zod was loaded: ${packages.join(', ')}`)
  assert.equal(accepted.error, undefined)
  assert.equal(accepted.result.module, 'relay')
  assert.equal(refused.error.code, 'MANIFEST_INVALID')
  assert.match(refused.error.message, /modules\[0\] \(relay\)\.config\.safeState: /)
})
