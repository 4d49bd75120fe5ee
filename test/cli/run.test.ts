// `outpost run` as the one binary that both runs and manages a gateway: a real core process, managed by the
// same binary, stopped cleanly by SIGTERM or by SIGINT however often it comes; a bad manifest starts nothing.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fixture, gone, waitFor } from '../helpers/gateway.js'
import { CLI, cli } from '../management/helpers.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-run-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function manifest (name: string, body: Record<string, unknown>): string {
  const file = path.join(dir, name)
  writeFileSync(file, JSON.stringify({ gateway: 'run-test', board: 'sim', runtimeDir: path.join(dir, 'run'), ...body }, null, 2))
  return file
}

/** `outpost run` in its own process, on a gateway with one echo module: its output so far, and its exit code */
function runCore (name: string): { core: ChildProcess, out: () => string, exited: Promise<number | null> } {
  const file = manifest(name, {
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  const core = spawn(process.execPath, [CLI, 'run', file], { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } })
  let out = ''
  core.stdout?.on('data', chunk => { out += chunk })
  core.stderr?.on('data', chunk => { out += chunk })
  const exited = new Promise<number | null>(resolve => core.once('close', code => resolve(code))) // all output read
  return { core, out: () => out, exited }
}

test('outpost run starts a gateway that outpost manages, and stops it on SIGTERM', async () => {
  const { core, out, exited } = runCore('gateway.json')
  try {
    const url = await waitFor('the broker to listen', () => /broker listening: .*, (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out())?.[1], 20_000)
    await waitFor('alpha to start', () => out().includes('echo ready'), 20_000)
    const ls = await cli(['ls', '--json', '--url', url])
    assert.equal(ls.code, 0, ls.stderr)
    const [alpha] = JSON.parse(ls.stdout) as Array<{ module: string, state: string, instances: Array<{ pid: number }> }>
    assert.equal(alpha?.state, 'running')
    core.kill('SIGTERM')
    assert.equal(await exited, 0)
    assert.match(out(), /gateway stopped/)
    assert.ok(gone(alpha?.instances[0]?.pid ?? 0))
  } finally {
    core.kill('SIGKILL')
  }
})

test('Ctrl-C under npm: SIGINT twice (the terminal\'s, then the one npm forwards) still stops cleanly, exit 0', async () => {
  const { core, out, exited } = runCore('twice.json')
  try {
    await waitFor('alpha to be ready', () => out().includes('echo ready'), 20_000)
    const pid = Number(/started alpha\.0 pid=(\d+)/.exec(out())?.[1])
    core.kill('SIGINT')
    // npm forwards its own SIGINT once its handler has run: the core is already stopping by then
    await waitFor('the first SIGINT to be handled', () => out().includes('SIGINT received'))
    core.kill('SIGINT')
    assert.equal(await exited, 0)
    assert.match(out(), /alpha\.0 exited with code 0 pid=\d+ reason=stopped/)
    assert.match(out(), /gateway stopped/)
    assert.ok(gone(pid))
  } finally {
    core.kill('SIGKILL')
  }
})

test('outpost run with an invalid manifest lists its problems and exits 2', async () => {
  const file = manifest('bad.json', { broker: { listeners: [{ type: 'tcp', host: '0.0.0.0', port: 0, anonymous: true }] } })
  const result = await cli(['run', file])
  assert.equal(result.code, 2)
  assert.match(result.stderr, /bad\.json: broker\.listeners\[0\]\.anonymous: anonymous access is only allowed on a loopback address/)
  assert.doesNotMatch(result.stderr, /\n\s+at /)
})
