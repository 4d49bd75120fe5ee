// Manifest validation: each kind of mistake, and the message that names file, path and expectation.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadManifest, validateManifest } from '../../core/manifest/load.js'
import { OutpostError } from '../../core/errors.js'

const FILE = '/etc/outpost/gateway.json'

async function problemsOf (manifest: unknown): Promise<OutpostError> {
  try {
    await validateManifest({ board: 'sim', ...manifest as object }, FILE)
  } catch (err) {
    assert.ok(err instanceof OutpostError)
    return err
  }
  assert.fail('manifest was accepted')
}

test('a valid manifest loads with defaults filled in', async () => {
  const loaded = await validateManifest({ gateway: 'g', board: 'sim', modules: [{ name: 'heater', entry: 'drivers/gpio-output', config: { line: 'GPIO17' } }] }, FILE)
  assert.equal(loaded.modules[0]?.spec.instances, 1)
  assert.deepEqual(loaded.modules[0]?.spec.config, { line: 'GPIO17', activeLow: false, safeState: 0 })
})

test('a wrong type names the path and what was expected', async () => {
  const err = await problemsOf({ gateway: 'g', modules: [{ name: 'a', entry: 'drivers/gpio-output', memoryMiB: '64', config: { line: 'GPIO1' } }] })
  assert.equal(err.code, 'MANIFEST_INVALID')
  assert.match(err.message, /\/etc\/outpost\/gateway\.json: modules\[0\] \(a\)\.memoryMiB: expected number, found the text "64"/)
})

test('an unknown key is an error, so a typo never passes', async () => {
  const err = await problemsOf({ gateway: 'g', modules: [{ name: 'a', entry: 'drivers/gpio-output', instance: 2, config: { line: 'GPIO1' } }] })
  assert.match(err.message, /modules\[0\] \(a\): unknown key "instance"/)
})

test('a driver config is checked against the driver schema', async () => {
  const err = await problemsOf({ gateway: 'g', modules: [{ name: 'relay', entry: 'drivers/gpio-output', config: { line: 'GPIO17', safeState: 2 } }] })
  assert.match(err.message, /modules\[0\] \(relay\)\.config\.safeState: /)
})

test('duplicate names, reserved core, unknown after, cycles and both entry and command are all reported at once', async () => {
  const err = await problemsOf({
    gateway: 'g',
    modules: [
      { name: 'a', entry: 'modules/thermostat', after: ['b'], config: { sensor: 's', relay: 'r' } },
      { name: 'b', entry: 'modules/thermostat', after: ['a'], config: { sensor: 's', relay: 'r' } },
      { name: 'b', command: ['true'] },
      { name: 'core', command: ['true'] },
      { name: 'c', command: ['true'], entry: 'modules/thermostat', after: ['nobody'] },
    ],
  })
  assert.match(err.message, /modules\[2\] \(b\)\.name: duplicate module name, already used by modules\[1\]/)
  assert.match(err.message, /"core" is reserved/)
  assert.match(err.message, /modules\[4\] \(c\)\.after\[0\]: no module named "nobody"/)
  assert.match(err.message, /modules\[4\] \(c\): expected exactly one of "entry" or "command"/)
})

test('a dependency cycle is named', async () => {
  const err = await problemsOf({
    gateway: 'g',
    modules: [
      { name: 'a', command: ['true'], after: ['c'] },
      { name: 'b', command: ['true'], after: ['a'] },
      { name: 'c', command: ['true'], after: ['b'] },
    ],
  })
  assert.match(err.message, /modules: "after" dependencies form a cycle: a → c → b → a/)
})

test('an entry that does not exist is named with where it was looked for', async () => {
  const err = await problemsOf({ gateway: 'g', modules: [{ name: 'x', entry: 'drivers/no-such-driver' }] })
  assert.match(err.message, /modules\[0\] \(x\)\.entry: module x: entry "drivers\/no-such-driver" has no compiled program at .*build\/drivers\/no-such-driver\/index\.js/)
})

test('budgets that exceed the board are refused, counting the core reserve', async () => {
  const err = await problemsOf({ gateway: 'g', modules: [{ name: 'big', command: ['true'], instances: 4, memoryMiB: 128 }] })
  assert.match(err.message, /memory budgets add up to 512 MiB; with the core's reserve of 96 MiB that is more than the 512 MiB board "sim" has/)
})

test('a missing file and bad JSON say so, naming the file and the token', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-manifest-'))
  try {
    await assert.rejects(loadManifest(path.join(dir, 'missing.json')), (err: OutpostError) => err.code === 'MANIFEST_NOT_FOUND' && /ENOENT/.test(err.message))
    const bad = path.join(dir, 'bad.json')
    writeFileSync(bad, '{\n  "gateway": "g",\n  "modules": [,]\n}\n')
    await assert.rejects(loadManifest(bad), (err: OutpostError) => err.code === 'MANIFEST_SYNTAX' && /not valid JSON: Unexpected token ','/.test(err.message) && err.message.includes(bad))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('two modules claiming the same line, even by different names, is an error naming both', async () => {
  const err = await problemsOf({
    gateway: 'g',
    modules: [
      { name: 'relay', entry: 'drivers/gpio-output', config: { line: 'GPIO17' } },
      { name: 'button', entry: 'drivers/gpio-input', config: { line: 'pin11' } },
      { name: 'ghost', entry: 'drivers/gpio-output', config: { line: 'GPIO99' } },
      { name: 'probe', entry: 'drivers/ds18b20', config: { bus: 'w9' } },
    ],
  })
  assert.match(err.message, /modules\[1\] \(button\)\.config: gpio sim-gpio:17 \(GPIO17\) is claimed by both relay and button/)
  assert.match(err.message, /modules\[2\] \(ghost\)\.config: board sim has no GPIO line "GPIO99"/)
  assert.match(err.message, /modules\[3\] \(probe\)\.config: board sim has no onewire "w9" \(it has: w1\)/)
})

test('a checker that does not start, fails or answers something else is CHECKER_FAILED, naming the manifest', async () => {
  const node = process.execPath
  try {
    for (const [program, why] of [
      ['/nonexistent/node', /the checker process \(\/nonexistent\/node .*check-process\.js\) failed: spawn \/nonexistent\/node ENOENT$/],
      ['/bin/false', /the checker process exited with code 1$/],
      ['/bin/echo', /the checker process answered ".*check-process\.js\\n", not a result$/],
    ] as const) {
      process.execPath = program
      await assert.rejects(validateManifest({ gateway: 'g' }, FILE), (err: OutpostError) => err.code === 'CHECKER_FAILED' && err.message.startsWith(`cannot check manifest ${FILE}: `) && why.test(err.message))
    }
  } finally {
    process.execPath = node
  }
})

test('review: a URL that would be logged with credentials in it is refused: uplink.url, the tracing module\'s otlp.url', async () => {
  const uplink = await problemsOf({ gateway: 'g', uplink: { url: 'mqtts://fleet:secret@fleet.example:8883' }, modules: [] })
  assert.match(uplink.message, /uplink\.url: no user or password in the URL \(it is logged\): use "username" and "password"/)
  const tracing = await problemsOf({ gateway: 'g', modules: [{ name: 'tracing', entry: 'modules/tracing', config: { otlp: { url: 'https://user:secret@collector.example/v1/traces' } } }] })
  assert.match(tracing.message, /otlp\.url: no user or password in the URL \(it is logged\): put credentials in "headers"/)
  // the same hosts without credentials pass
  await validateManifest({ gateway: 'g', board: 'sim', uplink: { url: 'mqtts://fleet.example:8883', username: 'fleet', password: 'secret' }, modules: [{ name: 'tracing', entry: 'modules/tracing', config: { otlp: { url: 'https://collector.example/v1/traces', headers: { authorization: 'Bearer x' } } } }] }, FILE)
})

test('review 2: the uplink cannot be told to forward the core\'s log or audit hooks, which the broker refuses any module (it exited and restarted for good)', async () => {
  for (const filter of ['core/audit', 'core/log/+', 'core/log/heater']) {
    const refused = await problemsOf({ gateway: 'g', uplink: { url: 'mqtts://fleet.example:8883', hooks: [{ filter }] }, modules: [] })
    assert.match(refused.message, /uplink\.hooks\[0\]\.filter: the core's log and audit hooks \(core\/log\/…, core\/audit\) are for operators; no module, the uplink included, may read them/, filter)
  }
  // the core's other hooks, and wildcards (filtered at delivery), are the uplink's to forward
  await validateManifest({ gateway: 'g', board: 'sim', uplink: { url: 'mqtts://fleet.example:8883', hooks: [{ filter: 'core/+' }, { filter: '+/#' }, { filter: 'sensor/reading' }] }, modules: [] }, FILE)
})
