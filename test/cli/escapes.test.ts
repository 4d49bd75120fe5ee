// Attacker's review, finding 2: a module's bytes never drive the operator's terminal. A real `outpost run`
// core supervises a module that logs an OSC (window title), a CSI (clear screen) and the C1 CSI U+009B, and
// answers with them: the core's stdout (the terminal or journal of `outpost run`), `outpost logs`, and
// `outpost call` (reply and error, text and --json) carry none of them raw, and show them written out.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fixture, waitFor } from '../helpers/gateway.js'
import { CLI, cli } from '../management/helpers.js'

/** ESC, any C1 character (U+0080–U+009F, which is how Node writes them: UTF-8, C2 80–C2 9F, decoded back), or
 * a bidirectional override */
const RAW = /[\x1b\x80-\x9f\u202e\u061c]/
/** the four sequences as the gateway and the CLI write them out */
const SHOWN = ['\\x1b]0;x\\x07', '\\x1b[2J', '\\x9b2J', '\\u202egnp.exe\\u061c']

const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-escapes-'))
let core: ChildProcess
let out = ''
let url = ''

before(async () => {
  const manifest = path.join(dir, 'gateway.json')
  writeFileSync(manifest, JSON.stringify({
    gateway: 'escapes-test',
    board: 'sim',
    runtimeDir: path.join(dir, 'run'),
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules: [{ name: 'loud', entry: fixture('escapes') }],
  }))
  core = spawn(process.execPath, [CLI, 'run', manifest], { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } })
  core.stdout?.on('data', chunk => { out += chunk })
  core.stderr?.on('data', chunk => { out += chunk })
  url = await waitFor('the broker to listen', () => /broker listening: .*, (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 20_000)
  await waitFor('the module\'s four lines', () => out.split('escapes: ').length > 4, 20_000)
})

after(async () => {
  const closed = new Promise(resolve => core?.once('close', resolve))
  core?.kill('SIGTERM')
  await closed
  rmSync(dir, { recursive: true, force: true })
})

test('the core\'s stdout shows a module\'s control characters written out, never raw', () => {
  assert.doesNotMatch(out, RAW)
  for (const shown of SHOWN) assert.match(out, new RegExp(`loud\\.0 +escapes: ${shown.replace(/[\\[\]]/g, '\\$&')} done\\n`))
})

test('outpost logs: no ESC or C1 character, the sequences written out; --json holds the same text', async () => {
  const text = await cli(['logs', 'loud', '--url', url])
  assert.equal(text.code, 0, text.stderr)
  assert.doesNotMatch(text.stdout, RAW)
  for (const shown of SHOWN) assert.ok(text.stdout.includes(`escapes: ${shown} done\n`), text.stdout)

  const json = await cli(['logs', 'loud', '--url', url, '--json'])
  assert.equal(json.code, 0, json.stderr)
  assert.doesNotMatch(json.stdout, RAW)
  const lines = json.stdout.trim().split('\n').map(l => JSON.parse(l) as { text: string }).filter(l => l.text.startsWith('escapes: '))
  assert.deepEqual(lines.map(l => l.text), SHOWN.map(s => `escapes: ${s} done`))
})

test('outpost call: a module\'s error message and its reply reach the terminal written out (text), or as JSON escapes (--json)', async () => {
  const failed = await cli(['call', 'loud.fail', '--url', url])
  assert.equal(failed.code, 1)
  assert.equal(failed.stderr, `outpost: loud.fail: refused ${SHOWN.join(' ')}\n`)
  const failedJson = await cli(['call', 'loud.fail', '--url', url, '--json'])
  assert.doesNotMatch(failedJson.stderr, RAW)
  assert.equal(JSON.parse(failedJson.stderr).error.message, 'loud.fail: refused \x1b]0;x\x07 \x1b[2J \u009b2J \u202egnp.exe\u061c', 'the message itself, in JSON')

  // a reply is printed as JSON even without --json: C0 is escaped by JSON itself, C1 and DEL by the CLI
  const value = { t: '\u009b2J \x1b[2J \x7f \u2028 \u202e' }
  for (const flags of [[], ['--json']]) {
    const echoed = await cli(['call', 'loud.echo', JSON.stringify(value), '--url', url, ...flags])
    assert.equal(echoed.code, 0, echoed.stderr)
    assert.doesNotMatch(echoed.stdout, /[\x1b\x7f-\x9f\u2028\u202e]/)
    assert.ok(echoed.stdout.includes('\\u009b2J'), echoed.stdout)
    assert.deepEqual(JSON.parse(echoed.stdout), value, 'the same JSON value')
  }
})

test('review 2: whatever else a CBOR decoder can make (a tag it does not know, a date) is printed as its text, escaped; byte strings stay bytes', async () => {
  const { printable } = await import('../../core/cli/format.js')
  const { decodeCbor } = await import('../../core/protocol/codec.js')
  // tag 99 over the text ESC [ 2 J: cbor-x makes a Tag object of it
  const tagged = decodeCbor(Buffer.from([0xa1, 0x61, 0x74, 0xd8, 0x63, 0x64, 0x1b, 0x5b, 0x32, 0x4a])) as Record<string, unknown>
  const shown = printable<Record<string, unknown>>({ ...tagged, date: new Date(0), bytes: Buffer.from([1]) })
  assert.equal(typeof shown.t, 'string')
  assert.doesNotMatch(String(shown.t), RAW)
  assert.equal(shown.date, String(new Date(0)))
  assert.ok(Buffer.isBuffer(shown.bytes))
})
