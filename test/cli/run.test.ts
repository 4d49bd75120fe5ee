// `outpost run` as the one binary that both runs and manages a gateway: a real core process, managed by the
// same binary, stopped cleanly by SIGTERM or by SIGINT however often it comes; a bad manifest starts nothing.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { connectOperator, fixture, gone, poll, waitFor } from '../helpers/gateway.js'
import { detectCgroups } from '../../core/supervisor/cgroups.js'
import { CLI, cli } from '../management/helpers.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-run-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function manifest (name: string, body: Record<string, unknown>): string {
  const file = path.join(dir, name)
  writeFileSync(file, JSON.stringify({ gateway: 'run-test', board: 'sim', runtimeDir: path.join(dir, 'run'), ...body }, null, 2))
  return file
}

/** `outpost run` in its own process, on a gateway with one echo module (or the modules given): its output so far, and its exit code */
function runCore (name: string, modules: unknown[] = [{ name: 'alpha', entry: fixture('echo') }]): { core: ChildProcess, out: () => string, exited: Promise<number | null> } {
  const file = manifest(name, {
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules,
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

test('Ctrl-C under npm: SIGINT twice (the terminal\'s, then the one npm forwards), and again while the core exits, still stops cleanly, exit 0 (issue 10 review: a SIGINT landing as the core exited killed it)', async () => {
  const { core, out, exited } = runCore('twice.json')
  try {
    await waitFor('alpha to be ready', () => out().includes('echo ready'), 20_000)
    const pid = Number(/started alpha\.0 pid=(\d+)/.exec(out())?.[1])
    core.kill('SIGINT')
    // npm forwards its own SIGINT once its handler has run: the core is already stopping by then
    await waitFor('the first SIGINT to be handled', () => out().includes('SIGINT received'))
    // and more, until it exits: a SIGINT that lands while the core exits must not kill it either
    const again = setInterval(() => core.kill('SIGINT'), 1)
    const code = await exited.finally(() => clearInterval(again))
    assert.equal(code, 0, `exit ${code} (signal ${core.signalCode}); the core's output:\n${out()}`)
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

const pidOf = (out: string, instance: string): number => Number(new RegExp(`started ${instance.replace('.', '\\.')} pid=(\\d+)`).exec(out)?.[1] ?? 0)
const coreGroup = (pid: number): string | undefined => {
  const root = detectCgroups().memoryRoot
  return root === undefined ? undefined : path.join(root, 'outpost', `run-test-${pid}`)
}

test('issue 10 F3: after kill -9 of the core its modules die whatever their language; the next core clears their children, cgroups and socket, in one line', { timeout: 60_000 }, async () => {
  const modules = [
    { name: 'alpha', entry: fixture('echo') },
    { name: 'forker', entry: fixture('forker') },
    // another language, never ready: still starting when its core dies
    { name: 'py', command: ['python3', '-c', 'import time; time.sleep(600)'], restart: { readyTimeoutMs: 60_000 } },
  ]
  const first = runCore('killed.json', modules)
  let second: ReturnType<typeof runCore> | undefined
  try {
    const url = await waitFor('the broker to listen', () => /broker listening: .*, (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(first.out())?.[1], 20_000)
    await waitFor('every module to be spawned', () => ['alpha.0', 'forker.0', 'py.0'].every(i => pidOf(first.out(), i) > 0), 20_000)
    const op = await connectOperator(url)
    const children = await poll(async () => (await op.call('forker', 'children')).result as { child: number, grandchild: number } | undefined)
    await op.end()
    const pids = { alpha: pidOf(first.out(), 'alpha.0'), forker: pidOf(first.out(), 'forker.0'), py: pidOf(first.out(), 'py.0') }
    assert.ok(Object.values(pids).every(pid => pid > 0 && !gone(pid)), `modules run: ${JSON.stringify(pids)}`)

    first.core.kill('SIGKILL')
    await first.exited
    // the parent-death signal: the kernel kills each module when its core dies, node or not
    await waitFor('every module to die with its core', () => Object.values(pids).every(gone))
    const group = coreGroup(first.core.pid ?? 0)
    if (group === undefined) return // no cgroups: what the modules forked is beyond reach once their core is gone
    assert.ok(!gone(children.child) && !gone(children.grandchild), 'a module\'s own children do not inherit the parent-death signal')
    assert.ok(existsSync(group), 'the dead core\'s cgroups are still there')

    second = runCore('killed.json', [{ name: 'alpha', entry: fixture('echo') }])
    const { out } = second
    await waitFor('the second core to be ready', () => out().includes('echo ready'), 20_000)
    const line = out().split('\n').filter(l => l.includes('did not stop cleanly'))
    assert.equal(line.length, 1, out())
    assert.match(line[0] ?? '', new RegExp(`stale broker socket .*and the cgroups of core pid ${first.core.pid} with 2 process\\(es\\) still in them`))
    assert.ok(gone(children.child) && gone(children.grandchild), 'the children the dead core\'s module left are killed')
    assert.ok(!existsSync(group), 'and its cgroups removed')
    second.core.kill('SIGTERM')
    assert.equal(await second.exited, 0)
  } finally {
    first.core.kill('SIGKILL')
    second?.core.kill('SIGKILL')
  }
})

test('issue 10 F4: SIGTERM during boot (a module never ready holds it) stops what was started and exits 0', { timeout: 60_000 }, async () => {
  const { core, out, exited } = runCore('boot.json', [
    { name: 'alpha', entry: fixture('echo') },
    { name: 'never', command: ['python3', '-c', 'import time; time.sleep(600)'], after: ['alpha'], restart: { readyTimeoutMs: 60_000 } },
  ])
  try {
    await waitFor('never to be spawned', () => pidOf(out(), 'never.0') > 0, 20_000)
    const pids = [pidOf(out(), 'alpha.0'), pidOf(out(), 'never.0')]
    core.kill('SIGTERM')
    assert.equal(await exited, 0, out())
    assert.match(out(), /SIGTERM received[^]*never\.0 exited with signal SIGTERM pid=\d+ reason=stopped[^]*gateway stopped/)
    assert.ok(pids.every(gone), 'its modules are stopped')
    const group = coreGroup(core.pid ?? 0)
    if (group !== undefined) assert.ok(!existsSync(group), `no cgroup left behind (${group})`)
  } finally {
    core.kill('SIGKILL')
  }
})
