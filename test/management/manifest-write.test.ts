// The manifest on disk survives a crash mid-write, the manifest refuses what management must never accept,
// and the audit log rotates.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sinon from 'sinon'
import { startTestGateway, connectOperator, fixture } from '../helpers/gateway.js'
import { validateManifest } from '../../core/manifest/load.js'
import { writeFileAtomic } from '../../core/management/atomic-write.js'
import { createAuditLog } from '../../core/management/audit.js'
import type { AuditRecord } from '../../core/management/audit.js'
import { manifestOnDisk } from './helpers.js'

const dirs: string[] = []
after(() => { for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true }) })

function tempDir (): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-write-'))
  dirs.push(dir)
  return dir
}

test('writeFileAtomic: a crash between write and rename leaves the old file whole', async () => {
  const file = path.join(tempDir(), 'gateway.json')
  fs.writeFileSync(file, '{"old":true}\n', { mode: 0o640 })
  const rename = sinon.stub(fs.promises, 'rename').rejects(Object.assign(new Error('simulated power cut'), { code: 'EIO' }))
  try {
    await assert.rejects(writeFileAtomic(file, '{"new":true}\n'), /simulated power cut/)
    assert.equal(rename.callCount, 1)
    // the new text was complete and synced in the temporary file before the rename was tried
    const [temp] = rename.firstCall.args
    assert.match(String(temp), /\.gateway\.json\.\d+\.tmp$/)
  } finally {
    rename.restore()
  }
  assert.equal(fs.readFileSync(file, 'utf8'), '{"old":true}\n')
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['gateway.json'])
  await writeFileAtomic(file, '{"new":true}\n')
  assert.equal(fs.readFileSync(file, 'utf8'), '{"new":true}\n')
  assert.equal(fs.statSync(file).mode & 0o777, 0o640, 'the manifest keeps its permissions')
})

test('a management change whose write fails is refused with MANIFEST_WRITE and changes nothing', async () => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo'), config: { greeting: 'hello' } }] })
  const op = await connectOperator(gw.url)
  try {
    const before = fs.readFileSync(gw.manifestFile, 'utf8')
    const pid = gw.gateway.modules.require('alpha').instances[0]?.process?.pid
    const rename = sinon.stub(fs.promises, 'rename').rejects(new Error('simulated power cut'))
    let reply
    try {
      reply = await op.call('core', 'configure', { module: 'alpha', config: { greeting: 'changed' } }, 15_000)
    } finally {
      rename.restore()
    }
    assert.equal((reply.error as { code: string }).code, 'MANIFEST_WRITE')
    assert.match((reply.error as { message: string }).message, /simulated power cut; nothing was changed/)
    assert.equal(fs.readFileSync(gw.manifestFile, 'utf8'), before)
    assert.equal(gw.gateway.modules.require('alpha').instances[0]?.process?.pid, pid)
    assert.deepEqual((await op.call('alpha', 'config')).result, { greeting: 'hello' })
    // and the next change goes through
    assert.equal((await op.call('core', 'configure', { module: 'alpha', config: { greeting: 'changed' } }, 15_000)).error, undefined)
    assert.equal((await manifestOnDisk(gw.manifestFile)).modules[0].config.greeting, 'changed')
  } finally {
    await op.end()
    await gw.stop()
  }
})

test('the manifest refuses anonymous access off loopback, clear passwords, and duplicate operators', async () => {
  const base = { gateway: 'g', board: 'sim' }
  await assert.rejects(validateManifest({ ...base, broker: { listeners: [{ type: 'tcp', host: '0.0.0.0', port: 1883, anonymous: true }] } }, 'm.json'),
    /m\.json: broker\.listeners\[0\]\.anonymous: anonymous access is only allowed on a loopback address/)
  await validateManifest({ ...base, broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 1883, anonymous: true }, { type: 'unix', path: 'x.sock', anonymous: true }] } }, 'm.json')
  await assert.rejects(validateManifest({ ...base, broker: { listeners: [{ type: 'tls', port: 8883, cert: 'c', key: 'k', anonymous: true }] } }, 'm.json'),
    /unknown key "anonymous"/)
  await assert.rejects(validateManifest({ ...base, operators: [{ user: 'ops', role: 'admin', passwordHash: 'hunter2' }] }, 'm.json'),
    /operators\[0\]\.passwordHash: a hash made by `outpost passwd`/)
  const hash = 'scrypt$16384$8$1$c2FsdA$a2V5'
  await assert.rejects(validateManifest({ ...base, operators: [{ user: 'ops', role: 'admin', passwordHash: hash }, { user: 'ops', role: 'viewer', passwordHash: hash }] }, 'm.json'),
    /operators\[1\]\.user: duplicate operator "ops"/)
  await assert.rejects(validateManifest({ ...base, operators: [{ user: 'alpha.0', role: 'admin', passwordHash: hash }] }, 'm.json'), /operators\[0\]\.user/)
  await assert.rejects(validateManifest({ ...base, broker: { listeners: [{ type: 'tcp', port: 1, limits: { rate: { action: 'ignore' } } }] } }, 'm.json'),
    /broker\.listeners\[0\]\.limits\.rate\.action/)
})

test('the audit log appends JSON lines, publishes each record, and rotates by size', async () => {
  const file = path.join(tempDir(), 'audit.log')
  const published: AuditRecord[] = []
  const audit = createAuditLog({ file, maxBytes: 4096, keep: 2, repeatWindowMs: 60_000, publish: r => published.push(r), warn: () => {} })
  const record = (i: number): AuditRecord => ({ ts: i, who: { kind: 'anonymous', role: 'admin', clientId: `c${i}` }, op: 'restart', module: 'm'.repeat(200), result: 'ok' })
  for (let i = 0; i < 100; i++) audit.record(record(i))
  await audit.flush()
  assert.equal(published.length, 100)
  const files = fs.readdirSync(path.dirname(file)).sort()
  assert.deepEqual(files, ['audit.log', 'audit.log.1', 'audit.log.2'])
  const lines = (name: string): AuditRecord[] => fs.readFileSync(path.join(path.dirname(file), name), 'utf8').trim().split('\n').map(l => JSON.parse(l))
  for (const name of files) assert.ok(fs.statSync(path.join(path.dirname(file), name)).size <= 4096)
  const current = lines('audit.log')
  assert.equal(current.at(-1)?.ts, 99)
  const older = lines('audit.log.1')
  assert.equal(older.at(-1)?.ts, (current[0]?.ts ?? 0) - 1, 'rotation loses nothing between the newest files')
})
