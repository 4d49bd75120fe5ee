// The `outpost` CLI as a real process against a real gateway: every management command, its output for
// people and for scripts (--json), its exit codes, and its errors (one line, no stack trace).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { verifyPassword } from '../../core/broker/credentials.js'
import { CLI, PASSWORDS, cli, manifestOnDisk, operators } from '../management/helpers.js'
import type { CliResult } from '../management/helpers.js'

let gw: TestGateway
let op: Operator
let env: Record<string, string>

before(async () => {
  gw = await startTestGateway({
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }] },
    operators: await operators(),
    modules: [
      { name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello' } },
      { name: 'fragile', entry: fixture('echo'), restart: { intensity: { maxRestarts: 0 } } },
    ],
  })
  env = { OUTPOST_URL: gw.url, OUTPOST_USER: 'admin', OUTPOST_PASS: PASSWORDS.admin }
  op = await connectOperator(gw.url, { username: 'admin', password: PASSWORDS.admin })
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

function noStack (result: CliResult): void {
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
}

async function outpost (...args: string[]): Promise<CliResult> {
  const result = await cli(args, env)
  noStack(result)
  return result
}

test('ls: a table for people, JSON for scripts', async () => {
  const text = await outpost('ls')
  assert.equal(text.code, 0, text.stderr)
  const [header, ...rows] = text.stdout.trim().split('\n')
  assert.match(header ?? '', /^MODULE\s+STATE\s+UP\s+PID\s+MEMORY\s+BUDGET\s+UPTIME\s+RESTARTS\s+LAST EXIT$/)
  assert.match(rows[0] ?? '', /^alpha\s+running\s+1\/1\s+\d+\s+[\d.]+ MiB\s+64 MiB\s+\d+s\s+0\s+-$/)
  assert.doesNotMatch(text.stdout, /\x1b\[/, 'no colours when not on a terminal')
  const json = await outpost('ls', '--json')
  const list = JSON.parse(json.stdout) as Array<{ module: string, state: string }>
  assert.deepEqual(list.map(m => [m.module, m.state]), [['alpha', 'running'], ['fragile', 'running']])
})

test('status and info', async () => {
  const status = await outpost('status', 'alpha')
  assert.equal(status.code, 0, status.stderr)
  assert.match(status.stdout, /^alpha {2}running$/m)
  assert.match(status.stdout, /budget\s+64 MiB per instance/)
  assert.match(status.stdout, /"greeting": "hello"/)
  const info = await outpost('info', '--json')
  assert.equal(JSON.parse(info.stdout).gateway, 'test')
  const text = await outpost('info')
  assert.match(text.stdout, /^board\s+sim /m)
  assert.match(text.stdout, new RegExp(`^listener\\s+${gw.url.replace(/[.[\]]/g, '\\$&')} \\(operators\\)$`, 'm'))
})

test('start, stop, restart, reset, with exit codes for scripts', async () => {
  const stop = await outpost('stop', 'alpha')
  assert.deepEqual([stop.code, stop.stdout], [0, 'alpha: stopped\n'])
  const again = await outpost('stop', 'alpha')
  assert.equal(again.code, 6)
  assert.match(again.stderr, /^outpost: core\.stop: module alpha is already stopped\n$/)
  assert.deepEqual([(await outpost('start', 'alpha')).stdout], ['alpha: running\n'])
  const pid = gw.gateway.modules.require('alpha').instances[0]?.process?.pid
  assert.equal((await outpost('restart', 'alpha')).code, 0)
  assert.notEqual(gw.gateway.modules.require('alpha').instances[0]?.process?.pid, pid)

  await op.call('fragile', 'crash')
  await waitFor('fragile to fail', () => gw.gateway.modules.require('fragile').instances[0]?.state.status === 'failed')
  const refused = await outpost('start', 'fragile')
  assert.equal(refused.code, 6)
  assert.match(refused.stderr, /reset it/)
  const reset = await outpost('reset', 'fragile', '--json')
  assert.equal(reset.code, 0)
  assert.equal(JSON.parse(reset.stdout).state, 'running')
})

test('add, config, rm: written to the manifest', async () => {
  const add = await outpost('add', 'gamma', fixture('echo'), '--config', '{"greeting":"hi"}', '--memory', '48')
  assert.equal(add.code, 0, add.stderr)
  assert.equal(add.stdout, 'added gamma: running\n')
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules.at(-1), { name: 'gamma', entry: fixture('echo'), config: { greeting: 'hi' }, memoryMiB: 48 })

  const set = await outpost('config', 'gamma', '--set', 'greeting=salut', '--set', 'n=3', '--instances', '2')
  assert.equal(set.code, 0, set.stderr)
  assert.match(set.stdout, /^gamma: changed \(config, instances\); running$/m)
  assert.deepEqual((await op.call('gamma', 'config')).result, { greeting: 'salut', n: 3 })
  assert.equal(gw.gateway.modules.require('gamma').instances.length, 2)
  const shown = await outpost('config', 'gamma')
  assert.deepEqual(JSON.parse(shown.stdout), { name: 'gamma', entry: fixture('echo'), config: { greeting: 'salut', n: 3 }, memoryMiB: 48, instances: 2 })
  const unset = await outpost('config', 'gamma', '--unset', 'n', '--memory', 'default')
  assert.equal(unset.code, 0, unset.stderr)
  assert.deepEqual(JSON.parse((await outpost('config', 'gamma')).stdout), { name: 'gamma', entry: fixture('echo'), config: { greeting: 'salut' }, instances: 2 })

  const before = readFileSync(gw.manifestFile, 'utf8')
  const invalid = await outpost('config', 'gamma', '--memory', '8')
  assert.equal(invalid.code, 1)
  assert.match(invalid.stderr, /modules\[2\] \(gamma\)\.memoryMiB/)
  assert.equal(readFileSync(gw.manifestFile, 'utf8'), before)

  const program = await outpost('add', 'delta', '--', process.execPath, fixture('echo'))
  assert.equal(program.code, 0, program.stderr)
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules.at(-1), { name: 'delta', command: [process.execPath, fixture('echo')] })

  for (const name of ['gamma', 'delta']) {
    const rm = await outpost('rm', name)
    assert.deepEqual([rm.code, rm.stdout], [0, `removed ${name}\n`])
  }
  assert.deepEqual((await manifestOnDisk(gw.manifestFile)).modules.map((m: { name: string }) => m.name), ['alpha', 'fragile'])
})

test('logs, and logs -f following new lines until Ctrl-C', async () => {
  const logs = await outpost('logs', 'alpha', '-n', '3')
  assert.equal(logs.code, 0)
  assert.match(logs.stdout, /\d\d:\d\d:\d\d\.\d{3} alpha\.0\s+echo ready/)
  assert.ok(logs.stdout.trim().split('\n').length <= 3)

  const follower = spawn(process.execPath, [CLI, 'logs', 'alpha', '-f', '-n', '1'], { env: { PATH: process.env.PATH ?? '', ...env } })
  let out = ''
  follower.stdout.on('data', chunk => { out += chunk })
  const exited = new Promise<number | null>(resolve => follower.once('exit', code => resolve(code)))
  try {
    await waitFor('the tail', () => out.includes('\n'))
    const before = out.split('echo ready').length
    await op.call('core', 'restart', { module: 'alpha' }, 15_000)
    await waitFor('a followed line', () => out.split('echo ready').length > before)
    follower.kill('SIGINT')
    assert.equal(await exited, 0)
  } finally {
    follower.kill('SIGKILL')
  }
})

test('issue 10 B6: a reader that stops reading (`outpost logs -f | head -1`) ends the CLI quietly, exit 0, no stack trace', async () => {
  const follower = spawn(process.execPath, [CLI, 'logs', 'alpha', '-f', '-n', '1'], { env: { PATH: process.env.PATH ?? '', ...env } })
  let stderr = ''
  follower.stderr.on('data', chunk => { stderr += chunk })
  const exited = new Promise<number | null>(resolve => follower.once('exit', code => resolve(code)))
  try {
    // like `head -1`: read the first line, then close the pipe; the next line written meets EPIPE
    await new Promise(resolve => follower.stdout.once('data', resolve))
    follower.stdout.destroy()
    await op.call('core', 'restart', { module: 'alpha' }, 15_000)
    assert.equal(await exited, 0, stderr)
    assert.equal(stderr, '')
  } finally {
    follower.kill('SIGKILL')
  }
})

test('call any module method; sub decodes CBOR to JSON', async () => {
  const call = await outpost('call', 'alpha.echo', '{"a":[1,"two"]}')
  assert.equal(call.code, 0)
  assert.deepEqual(JSON.parse(call.stdout), { a: [1, 'two'] })
  const failed = await outpost('call', 'alpha.fail')
  assert.equal(failed.code, 1)
  assert.equal(failed.stderr, 'outpost: alpha.fail: handler exploded\n')
  // issue 10 B6: each message names the call once
  const noMethod = await outpost('call', 'alpha.nope')
  assert.equal(noMethod.code, 5)
  assert.match(noMethod.stderr, /^outpost: alpha\.nope: no such method \(alpha has: [A-Za-z, ]+\)\n$/)
  const nobody = await outpost('call', 'nobody.echo')
  assert.equal(nobody.code, 5)
  assert.equal(nobody.stderr, 'outpost: nobody.echo: the gateway has no module named "nobody"\n')
  const badArgs = await outpost('logs', 'alpha', '-n', '0')
  assert.equal(badArgs.code, 2)
  assert.equal(badArgs.stderr.split('core.logs').length, 2, badArgs.stderr)
  const bad = await outpost('call', 'alpha.echo', '{oops')
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /the arguments is not valid JSON/)

  const state = await outpost('sub', 'state/alpha', '-n', '1')
  assert.equal(state.code, 0)
  assert.match(state.stdout, /^state\/alpha \{"module":"alpha","state":"running","instances":\[/)

  const subscribed = new Promise<void>(resolve => {
    const onSubscribe = (subscriptions: Array<{ topic: string }>): void => {
      if (subscriptions.some(s => s.topic === 'hooks/alpha/+')) {
        gw.gateway.broker.aedes.off('subscribe', onSubscribe)
        resolve()
      }
    }
    gw.gateway.broker.aedes.on('subscribe', onSubscribe)
  })
  const sub = cli(['sub', 'alpha/+', '-n', '1', '--json'], env)
  await Promise.race([subscribed, sub.then(r => { throw new Error(`outpost sub ended before subscribing: ${r.stderr}`) })])
  await op.call('alpha', 'emit', { hook: 'ping', data: { bytes: Buffer.from('hi'), n: 1 } })
  const hook = await sub
  assert.equal(hook.code, 0, hook.stderr)
  const message = JSON.parse(hook.stdout)
  assert.equal(message.topic, 'hooks/alpha/ping')
  assert.deepEqual(message.payload.data, { bytes: Buffer.from('hi').toString('base64'), n: 1 })
})

test('passwd hashes a password read from standard input', async () => {
  const hash = await cli(['passwd'], {}, 'a long secret\n')
  assert.equal(hash.code, 0)
  assert.equal(await verifyPassword('a long secret', hash.stdout.trim()), true)
  const entry = await cli(['passwd', '--user', 'ops', '--role', 'admin'], {}, 'a long secret\n')
  const parsed = JSON.parse(entry.stdout)
  assert.deepEqual([parsed.user, parsed.role], ['ops', 'admin'])
  assert.equal(await verifyPassword('a long secret', parsed.passwordHash), true)
  assert.equal((await cli(['passwd'], {}, 'short\n')).code, 2)
})

test('helpful errors and exit codes: usage, cannot connect, wrong password, not authorised', async () => {
  const usage = await outpost('status')
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /^outpost: expected a module name\nusage: outpost status <module>\n$/)
  assert.equal((await outpost('frobnicate')).code, 2)
  assert.equal((await outpost('ls', '--bogus')).code, 2)

  const refused = await cli(['ls', '--url', 'mqtt://127.0.0.1:1'], env)
  assert.equal(refused.code, 3)
  assert.match(refused.stderr, /^outpost: cannot connect to mqtt:\/\/127\.0\.0\.1:1: connection refused/)
  noStack(refused)

  const wrong = await cli(['ls'], { ...env, OUTPOST_PASS: 'wrong' })
  assert.equal(wrong.code, 4)
  assert.match(wrong.stderr, /user name or password refused/)
  const anonymous = await cli(['ls'], { OUTPOST_URL: gw.url })
  assert.equal(anonymous.code, 4)
  assert.match(anonymous.stderr, /anonymous access is off/)

  const viewer = { ...env, OUTPOST_USER: 'viewer', OUTPOST_PASS: PASSWORDS.viewer }
  assert.equal((await cli(['ls'], viewer)).code, 0)
  const pid = gw.gateway.modules.require('alpha').instances[0]?.process?.pid
  const denied = await cli(['stop', 'alpha', '--json'], viewer)
  assert.equal(denied.code, 4)
  assert.equal(JSON.parse(denied.stderr).error.code, 'NOT_AUTHORISED')
  assert.match(JSON.parse(denied.stderr).error.message, /closed the connection instead of answering core\.stop/)
  assert.equal(gw.gateway.modules.require('alpha').instances[0]?.process?.pid, pid)
  assert.equal(gw.gateway.modules.require('alpha').instances[0]?.state.status, 'running')

  const unknown = await outpost('restart', 'nope')
  assert.equal(unknown.code, 5)
  assert.match(unknown.stderr, /^outpost: core\.restart: no module named "nope" \(modules: alpha, fragile\)\n$/)
})
