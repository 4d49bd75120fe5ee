// issue 10 A7 (audit): a viewer sending a refused `rpc/core/restart` as fast as it can (the broker closes the
// connection at each refusal, so over many connections) once rotated every record of real changes out of the audit log. Identical refusals (same
// caller, method, module) are now folded: the first is written at once, the rest of each window as one
// record with a count, so the admin's change stays and every refusal is still accounted for.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import { encodeCbor } from '../../core/protocol/codec.js'
import { createAuditLog } from '../../core/management/audit.js'
import type { AuditRecord } from '../../core/management/audit.js'
import { PASSWORDS, operators } from './helpers.js'

const gw = await startTestGateway({
  broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, limits: { maxClients: 100, maxClientsPerUser: 100 } }] },
  operators: await operators(),
  modules: [{ name: 'alpha', entry: fixture('echo') }],
  // 4 KiB, one old file: room for about 30 records, so 45 unfolded refusals would push everything else out
  audit: { file: 'audit.log', maxBytes: 4096, keep: 1, repeatWindowMs: 1000 },
})
after(() => gw.stop())

/** every record in the audit log and the one rotated file kept */
function allRecords (): AuditRecord[] {
  const read = (name: string): AuditRecord[] => {
    try {
      return readFileSync(path.join(gw.dir, name), 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as AuditRecord)
    } catch {
      return []
    }
  }
  return [...read('audit.log.1'), ...read('audit.log')]
}

test('issue 10 A7: a flood of refused rpc/core/restart is folded in the audit log; the admin\'s change stays, every refusal is counted', async () => {
  const admin = await connectOperator(gw.url, { username: 'admin', password: PASSWORDS.admin })
  try {
    assert.equal((await admin.call('core', 'restart', { module: 'alpha' }, 20_000)).error, undefined)
    const refusals = (): number => gw.logs.filter(l => l.text.startsWith('denied publish rpc/core/restart')).length
    // as many viewer connections as refusals, logged in first, one after another (an address has at most 8
    // password checks in flight, and they run at its rate), then each asks for a restart at once
    const viewers = []
    for (let i = 0; i < 45; i++) viewers.push(await connectOperator(gw.url, { username: 'viewer', password: PASSWORDS.viewer }))
    await Promise.all(viewers.map(async viewer => {
      const closed = new Promise<void>(resolve => viewer.client.once('close', () => resolve()))
      viewer.raw('rpc/core/restart', encodeCbor({ id: 1, reply: `reply/${viewer.clientId}`, args: { module: 'alpha' } }))
      await closed
      viewer.client.end(true)
    }))
    assert.equal(refusals(), 45)
    // the last window closes a second after the last refusal
    const denied = await waitFor('every refusal in the audit log', () => {
      const records = allRecords().filter(r => r.result === 'denied')
      // a folded record stands for its repeats, a first refusal for itself
      return records.reduce((n, r) => n + (r.repeats ?? 1), 0) === refusals() ? records : undefined
    }, 10_000)
    assert.ok(denied.length <= 3, `${refusals()} refusals in ${denied.length} records`)
    assert.ok(denied.some(r => (r.repeats ?? 0) > 0 && typeof r.since === 'number' && r.since <= r.ts))
    for (const r of denied) {
      assert.equal(r.op, 'restart')
      assert.deepEqual({ kind: r.who.kind, user: (r.who as { user?: string }).user }, { kind: 'operator', user: 'viewer' })
    }
    const change = allRecords().find(r => r.result === 'ok' && r.op === 'restart')
    assert.equal(change?.module, 'alpha', 'the admin\'s restart is still in the audit log')
    const info = (await admin.call('core', 'info')).result as { dropped: { auditRefusalsFolded: number } }
    assert.equal(info.dropped.auditRefusalsFolded, refusals() - denied.filter(r => r.repeats === undefined).length)
  } finally {
    await admin.end()
  }
})

test('issue 10 A7: refusals of ever new method names by one caller share one record past 16 names; a 60 KB name is kept to 128 characters', async () => {
  const file = path.join(gw.dir, 'names-audit.log')
  const published: AuditRecord[] = []
  const audit = createAuditLog({ file, maxBytes: 1_048_576, keep: 1, repeatWindowMs: 60_000, publish: r => published.push(r), warn: () => {} })
  const who = { kind: 'operator' as const, role: 'viewer' as const, user: 'viewer', clientId: 'v1' }
  for (let i = 0; i < 100; i++) audit.record({ ts: i, who: { ...who, clientId: `v${i}` }, op: `${i}-${'m'.repeat(60_000)}`, result: 'denied', error: { code: 'NOT_AUTHORISED', message: 'no' } })
  await audit.flush()
  const records = readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l) as AuditRecord)
  assert.equal(records.length, 16 + 2, '16 names one by one, then one shared record, and its folded repeats at the end')
  assert.deepEqual(records.slice(0, 16).map(r => r.op.length), Array(16).fill(129))
  assert.equal(records[16]?.op, '*')
  assert.equal(records[17]?.repeats, 100 - 17)
  assert.equal(audit.folded(), 100 - 17)
  assert.deepEqual(published, records)
})
