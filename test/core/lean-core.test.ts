// The core never loads zod: manifest checks run in the short-lived checker process, at start and for every
// management change, the management API checks its arguments by hand, and what `outpost run` loads names
// fleets without the uplink's schema (manifest/fleet-names.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { waitFor } from '../helpers/wait.js'

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

test('`outpost run`, as npm start runs it, never loads zod', async t => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-lean-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const manifest = path.join(dir, 'gateway.json')
  writeFileSync(manifest, JSON.stringify({
    gateway: 'lean',
    board: 'sim',
    runtimeDir: path.join(dir, 'run'),
    broker: { listeners: [{ type: 'unix', path: path.join(dir, 'control.sock'), anonymous: true }] },
    modules: [{ name: 'relay', entry: 'drivers/gpio-output', config: { line: 'GPIO17' } }],
  }))
  const packagesFile = path.join(dir, 'packages.json')
  const hook = fileURLToPath(new URL('./package-log.js', import.meta.url))
  const main = fileURLToPath(new URL('../../core/cli/main.js', import.meta.url))
  const core = spawn(process.execPath, ['--import', hook, main, 'run', manifest], { env: { ...process.env, OUTPOST_TEST_PACKAGES: packagesFile }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  core.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  core.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>(resolve => core.once('exit', code => resolve(code)))
  t.after(() => { core.kill('SIGKILL') })
  await waitFor('the relay driving its line', () => /relay\.0 +driving GPIO17/.test(output), 30_000)
    .catch((err: Error) => { throw new Error(`${err.message}; the core's output:\n${output}`) })
  core.kill('SIGTERM')
  assert.equal(await exited, 0, output)
  const packages = JSON.parse(readFileSync(packagesFile, 'utf8')) as string[]
  assert.ok(packages.includes('aedes'), `the hook saw the gateway's packages: ${packages.join(', ')}`)
  assert.ok(!packages.includes('zod'), `zod was loaded: ${packages.join(', ')}`)
})
