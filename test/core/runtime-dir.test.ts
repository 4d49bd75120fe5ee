// issue 10 A9: the runtime folder (module socket, board, config files) is one only the core's user can write.
// A folder found there that others can write, that belongs to someone else or is a symlink is refused with
// its path and the fix; files in it are replaced, never written through a symlink planted in their place.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGateway } from '../../core/gateway.js'
import { createCoreLog } from '../../core/log.js'
import { prepareRuntimeDir, runtimeDirFor } from '../../core/runtime-dir.js'
import { fixture } from '../helpers/gateway.js'
import { cli } from '../management/helpers.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-rundir-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
const quiet = createCoreLog({ write: () => {} })

function manifest (name: string, body: Record<string, unknown> = {}): string {
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify({ gateway: name, board: 'sim', broker: { listeners: [] }, ...body }))
  return file
}

test('issue 10 A9: the folder is chosen from the manifest, $RUNTIME_DIRECTORY, /run/outpost for root, $XDG_RUNTIME_DIR, then per user', () => {
  assert.deepEqual(runtimeDirFor('gw', '/srv/gw-run', { RUNTIME_DIRECTORY: '/run/x' }, 0), { dir: '/srv/gw-run', ownParent: false })
  assert.deepEqual(runtimeDirFor('gw', undefined, { RUNTIME_DIRECTORY: '/run/outpost-svc:/run/other', XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), { dir: '/run/outpost-svc/gw', ownParent: false })
  assert.deepEqual(runtimeDirFor('gw', undefined, { XDG_RUNTIME_DIR: '/run/user/0' }, 0), { dir: '/run/outpost/gw', ownParent: true })
  assert.deepEqual(runtimeDirFor('gw', undefined, { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), { dir: '/run/user/1000/outpost/gw', ownParent: true })
  assert.deepEqual(runtimeDirFor('gw', undefined, {}, 1000), { dir: path.join(os.tmpdir(), 'outpost-1000', 'gw'), ownParent: true })
})

test('issue 10 A9: a new folder is made 0700, its per-user level too', () => {
  const target = { dir: path.join(dir, 'outpost-fresh', 'gw'), ownParent: true }
  prepareRuntimeDir(target)
  assert.equal(fs.statSync(target.dir).mode & 0o777, 0o700)
  assert.equal(fs.statSync(path.dirname(target.dir)).mode & 0o777, 0o700)
})

test('issue 10 A9: a world-writable folder planted first (as anyone can in /tmp) is refused: the core names it and the fix, and writes nothing', async () => {
  const planted = path.join(dir, 'planted')
  fs.mkdirSync(planted)
  fs.chmodSync(planted, 0o777)
  const victim = path.join(dir, 'victim.txt')
  fs.writeFileSync(victim, 'precious\n')
  fs.symlinkSync(victim, path.join(planted, 'board.json'))
  const result = await cli(['run', manifest('planted', { runtimeDir: planted })])
  assert.equal(result.code, 1)
  assert.equal(result.stderr, `outpost: runtime folder ${planted} can be written by other users (mode 777): chmod go-w ${planted}, or remove it, or name another folder in the manifest's "runtimeDir"\n`)
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n')
  assert.ok(!fs.existsSync(path.join(planted, 'broker.sock')))
})

test('issue 10 A9: the per-user level is checked too: a world-writable outpost-<uid> in /tmp is refused', () => {
  const parent = path.join(dir, 'outpost-4242')
  fs.mkdirSync(parent)
  fs.chmodSync(parent, 0o777)
  assert.throws(() => prepareRuntimeDir({ dir: path.join(parent, 'gw'), ownParent: true }), { code: 'RUNTIME_DIR', message: new RegExp(`^runtime folder ${parent} can be written by other users`) })
  assert.ok(!fs.existsSync(path.join(parent, 'gw')))
})

test('issue 10 A9: a symlink in place of the folder is refused', async () => {
  const real = path.join(dir, 'elsewhere')
  fs.mkdirSync(real, { mode: 0o700 })
  const link = path.join(dir, 'link')
  fs.symlinkSync(real, link)
  await assert.rejects(startGateway({ manifestFile: manifest('link'), runtimeDir: link, log: quiet }), { code: 'RUNTIME_DIR', message: `runtime folder ${link} is a symbolic link: remove it, or name another folder in the manifest's "runtimeDir"` })
})

test('issue 10 A9: a folder of another user is refused', { skip: process.geteuid?.() !== 0 && 'needs root to give a folder to another user' }, async () => {
  const theirs = path.join(dir, 'theirs')
  fs.mkdirSync(theirs, { mode: 0o700 })
  fs.chownSync(theirs, 65534, 65534)
  await assert.rejects(startGateway({ manifestFile: manifest('theirs'), runtimeDir: theirs, log: quiet }), { code: 'RUNTIME_DIR', message: new RegExp(`^runtime folder ${theirs} belongs to uid 65534, not to this user`) })
})

test('issue 10 A9: board.json and config files are replaced, not written through symlinks left in their place', async () => {
  const own = path.join(dir, 'own')
  fs.mkdirSync(own, { mode: 0o700 })
  const victim = path.join(dir, 'victim-2.txt')
  fs.writeFileSync(victim, 'precious\n')
  fs.symlinkSync(victim, path.join(own, 'board.json'))
  fs.symlinkSync(victim, path.join(own, 'alpha.config.json'))
  const gateway = await startGateway({ manifestFile: manifest('own', { modules: [{ name: 'alpha', entry: fixture('echo'), config: { greeting: 'hi' } }] }), runtimeDir: own, log: quiet })
  try {
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n')
    for (const name of ['board.json', 'alpha.config.json']) {
      const stat = fs.lstatSync(path.join(own, name))
      assert.ok(stat.isFile(), `${name} is a file of its own`)
      assert.equal(stat.mode & 0o777, 0o600)
    }
    assert.equal(JSON.parse(fs.readFileSync(path.join(own, 'board.json'), 'utf8')).name, 'sim')
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(own, 'alpha.config.json'), 'utf8')), { greeting: 'hi' })
  } finally {
    await gateway.stop()
  }
})
