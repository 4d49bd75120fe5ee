// cgroup detection against fake trees in a temp dir (v2, v1, hybrid, none), group set-up on a fake v2 tree,
// and a real kernel limit on this machine's writable cgroup hierarchy.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { OutpostError } from '../../core/errors.js'
import { cgroupSpawnPrefix, createModuleCgroup, detectCgroups } from '../../core/supervisor/cgroups.js'

const MiB = 1024 * 1024

/** a fake cgroup tree: { 'relative/file': 'content' }, directories made as needed */
function tree (t: TestContext, files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'outpost-cgroup-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), content)
  }
  return root
}

test('cgroup v2 with the memory controller, gateway in the root group', (t) => {
  const root = tree(t, { 'cgroup.controllers': 'cpuset cpu io memory pids\n', 'cgroup.procs': '1\n' })
  const info = detectCgroups({ root, self: '0::/\n' })
  assert.equal(info.kind, 'v2')
  assert.equal(info.memoryRoot, root)
  assert.match(info.reason, /^cgroup v2 memory controller: module groups under .*\/outpost$/)
})

test('cgroup v2 under systemd: groups go in the nearest ancestor without processes of its own', (t) => {
  const service = 'system.slice/outpost.service'
  const root = tree(t, {
    'cgroup.controllers': 'cpu memory pids\n',
    [`${service}/cgroup.type`]: 'domain\n',
    [`${service}/cgroup.controllers`]: 'memory pids\n',
    [`${service}/cgroup.procs`]: '',
    [`${service}/core/cgroup.type`]: 'domain\n',
    [`${service}/core/cgroup.controllers`]: 'memory pids\n',
    [`${service}/core/cgroup.procs`]: '4242\n',
  })
  const info = detectCgroups({ root, self: `0::/${service}/core\n` })
  assert.equal(info.kind, 'v2')
  assert.equal(info.memoryRoot, path.join(root, service))
})

test('cgroup v2 in a container whose root group holds processes: none, and why', (t) => {
  const root = tree(t, { 'cgroup.type': 'domain\n', 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.procs': '1\n7\n' })
  const info = detectCgroups({ root, self: '0::/\n' })
  assert.equal(info.kind, 'none')
  assert.match(info.reason, /hold processes.*Delegate=yes/)
})

test('cgroup v2 without the memory controller (Raspberry Pi OS) is none, and says how to enable it', (t) => {
  const root = tree(t, { 'cgroup.controllers': 'cpuset cpu io pids\n' })
  const info = detectCgroups({ root, self: '0::/init.scope\n' })
  assert.equal(info.kind, 'none')
  assert.equal(info.memoryRoot, undefined)
  assert.match(info.reason, /cgroup v2 at .* has no memory controller.*cgroup_enable=memory/)
})

test('cgroup v1: nested under the gateway\'s own memory group when it is visible', (t) => {
  const root = tree(t, { 'memory/memory.limit_in_bytes': '9223372036854771712\n', 'memory/gw/tasks': '' })
  assert.equal(detectCgroups({ root, self: '4:memory:/gw\n1:cpu,cpuacct:/\n' }).memoryRoot, path.join(root, 'memory/gw'))
  const info = detectCgroups({ root, self: '4:memory:/docker/elsewhere\n' })
  assert.equal(info.kind, 'v1')
  assert.equal(info.memoryRoot, path.join(root, 'memory'), 'a group not visible in this mount: the mount itself')
  assert.match(info.reason, /^cgroup v1 memory controller: module groups under /)
})

test('hybrid (v1 memory, cgroup2 at unified without memory) is v1; with memory only on unified it is v2', (t) => {
  const hybrid = tree(t, { 'memory/memory.limit_in_bytes': '0', 'unified/cgroup.controllers': '' })
  const info = detectCgroups({ root: hybrid, self: '4:memory:/\n0::/\n' })
  assert.equal(info.kind, 'v1')
  assert.match(info.reason, /hybrid: cgroup2 at .*unified has no memory controller/)

  const unifiedOnly = tree(t, { 'unified/cgroup.controllers': 'memory pids' })
  const v2 = detectCgroups({ root: unifiedOnly, self: '0::/\n' })
  assert.equal(v2.kind, 'v2')
  assert.equal(v2.memoryRoot, path.join(unifiedOnly, 'unified'))
})

test('no cgroup filesystem, or one without a memory hierarchy, is none with a reason', (t) => {
  const empty = tree(t, { 'cpu/cpu.shares': '1024' })
  const none = detectCgroups({ root: empty, self: '' })
  assert.equal(none.kind, 'none')
  assert.match(none.reason, /no memory controller under .*cgroup_enable=memory/)
  const missing = detectCgroups({ root: path.join(empty, 'nowhere'), self: '' })
  assert.equal(missing.kind, 'none')
  assert.match(missing.reason, /^no cgroup filesystem at /)
})

test('a v2 module group: memory handed down, limits written, optional knobs set where the kernel has them', (t) => {
  const root = tree(t, {
    'cgroup.controllers': 'memory pids',
    'cgroup.subtree_control': 'pids',
    'outpost/relay/memory.swap.max': 'max',
    'outpost/relay/memory.oom.group': '0',
    'outpost/relay/memory.events': 'low 0\nhigh 3\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n',
    'outpost/relay/memory.current': '1234567\n',
  })
  const group = createModuleCgroup({ kind: 'v2', reason: '', memoryRoot: root }, 'relay', { limitBytes: 64 * MiB })
  const read = (file: string): string => readFileSync(path.join(root, file), 'utf8')
  assert.equal(group.path, path.join(root, 'outpost/relay'))
  assert.equal(group.procsFile, path.join(root, 'outpost/relay/cgroup.procs'))
  assert.equal(read('cgroup.subtree_control'), '+memory')
  assert.equal(read('outpost/cgroup.subtree_control'), '+memory')
  assert.equal(read('outpost/relay/memory.max'), String(64 * MiB))
  assert.equal(read('outpost/relay/memory.high'), String(Math.floor(64 * MiB * 0.9)))
  assert.equal(read('outpost/relay/memory.swap.max'), '0')
  assert.equal(read('outpost/relay/memory.oom.group'), '1')
  assert.equal(group.oomKills(), 1)
  assert.equal(group.usageBytes(), 1234567)
  assert.deepEqual(cgroupSpawnPrefix(group), ['/bin/sh', '-c', 'echo $$ > "$0" || exit 125; exec "$@"', group.procsFile])
})

test('no memory controller: creating a group fails with CGROUP_SETUP and the detection\'s reason', () => {
  assert.throws(
    () => createModuleCgroup({ kind: 'none', reason: 'cgroup v2 at /x has no memory controller' }, 'relay', { limitBytes: MiB }),
    (err: unknown) => err instanceof OutpostError && err.code === 'CGROUP_SETUP' && /module "relay".*no memory controller/.test(err.message),
  )
})

test('real kernel: a module past its 64 MiB cgroup limit is SIGKILLed and counted as an OOM kill', { timeout: 30_000 }, async (t) => {
  const info = detectCgroups()
  if (info.kind === 'none') {
    t.skip(`no writable memory cgroup here: ${info.reason}`)
    return
  }
  const group = createModuleCgroup(info, `test-oom-${process.pid}`, { limitBytes: 64 * MiB })
  t.after(() => group.remove())
  assert.equal(group.oomKills(), 0)
  // allocates and touches 4 MiB every 5 ms; stops at 512 MiB and exits 3, so a limit that does nothing fails
  const script = `const keep = []; const t = setInterval(() => { keep.push(Buffer.alloc(4 << 20, 1)); if (keep.length === 128) process.exit(3) }, 5)`
  const [file, ...args] = [...cgroupSpawnPrefix(group), process.execPath, '-e', script]
  const child = spawn(file ?? '', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code, signal] = await once(child, 'exit') as [number | null, string | null]
  assert.deepEqual({ code, signal }, { code: null, signal: 'SIGKILL' }, `stderr: ${stderr}`)
  assert.ok(group.oomKills() >= 1, 'the kernel counted the OOM kill')
  await group.remove()
  assert.throws(() => readFileSync(group.procsFile), { code: 'ENOENT' })
})

test('real kernel: removing a group kills what outlived the module', { timeout: 30_000 }, async (t) => {
  const info = detectCgroups()
  if (info.kind === 'none') {
    t.skip(`no writable memory cgroup here: ${info.reason}`)
    return
  }
  const group = createModuleCgroup(info, `test-leftover-${process.pid}`, { limitBytes: 64 * MiB })
  t.after(() => group.remove())
  const [file, ...args] = [...cgroupSpawnPrefix(group), 'sleep', '60']
  const child = spawn(file ?? '', args, { stdio: 'ignore' })
  t.after(() => child.kill('SIGKILL'))
  while (readFileSync(group.procsFile, 'utf8').trim() === '') await new Promise(resolve => setTimeout(resolve, 20))
  assert.equal(readFileSync(group.procsFile, 'utf8').trim(), String(child.pid), 'the shell joined, then exec kept its PID')
  const exited = once(child, 'exit')
  await group.remove()
  assert.deepEqual(await exited, [null, 'SIGKILL'])
})

test('issue 10 F2: a v2 instance group under the core\'s own group gets the memory controller handed down every level', (t) => {
  const root = tree(t, { 'cgroup.controllers': 'memory pids', 'cgroup.subtree_control': '' })
  createModuleCgroup({ kind: 'v2', reason: '', memoryRoot: root }, 'gw-42/relay.0', { limitBytes: 64 * MiB })
  const read = (file: string): string => readFileSync(path.join(root, file), 'utf8')
  for (const level of ['', 'outpost/', 'outpost/gw-42/']) assert.equal(read(`${level}cgroup.subtree_control`), '+memory', `${level || 'root'} hands memory down`)
  assert.equal(read('outpost/gw-42/relay.0/memory.max'), String(64 * MiB))
})

test('issue 10 F2 real kernel: a group is emptied by SIGKILL round after round (a process forking while killed), then removed with the core\'s group above it', { timeout: 30_000 }, async (t) => {
  const info = detectCgroups()
  if (info.kind === 'none') {
    t.skip(`no writable memory cgroup here: ${info.reason}`)
    return
  }
  const group = createModuleCgroup(info, `test-forks-${process.pid}/spawner.0`, { limitBytes: 64 * MiB })
  t.after(() => group.remove())
  // forks a detached sleeper every few ms: whatever one round of kills misses, the next must catch
  const script = `const { spawn } = require('node:child_process'); setInterval(() => spawn('sleep', ['60'], { detached: true, stdio: 'ignore' }).unref(), 2)`
  const [file, ...args] = [...cgroupSpawnPrefix(group), process.execPath, '-e', script]
  const child = spawn(file ?? '', args, { stdio: 'ignore', detached: true })
  t.after(() => child.kill('SIGKILL'))
  while (readFileSync(group.procsFile, 'utf8').trim().split('\n').length < 5) await new Promise(resolve => setTimeout(resolve, 20))
  const exited = once(child, 'exit')
  await group.remove()
  assert.deepEqual(await exited, [null, 'SIGKILL'])
  assert.throws(() => readFileSync(group.procsFile), { code: 'ENOENT' })
  assert.throws(() => readFileSync(path.join(path.dirname(group.path), 'cgroup.procs')), { code: 'ENOENT' }, 'the core\'s group went with its last instance')
})
