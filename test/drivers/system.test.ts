// system driver: parsing against a fake /proc and /sys tree, and the real driver process on a gateway.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readHealth, parseLoad, parseMeminfo } from '../../drivers/system/read.js'
import { startTestGateway, connectOperator } from '../helpers/gateway.js'

test('health from a fake kernel tree: hottest zone, load, memory, and nulls for what is missing', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'outpost-system-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  const proc = path.join(root, 'proc')
  const sys = path.join(root, 'sys')
  mkdirSync(proc)
  for (const [zone, milli] of [['thermal_zone0', '48312'], ['thermal_zone1', '51250']]) {
    mkdirSync(path.join(sys, 'class', 'thermal', zone ?? ''), { recursive: true })
    writeFileSync(path.join(sys, 'class', 'thermal', zone ?? '', 'temp'), `${milli}\n`)
  }
  writeFileSync(path.join(proc, 'loadavg'), '0.52 0.31 0.12 2/345 6789\n')
  writeFileSync(path.join(proc, 'meminfo'), 'MemTotal:         948280 kB\nMemFree:          100000 kB\nMemAvailable:     612340 kB\n')
  writeFileSync(path.join(proc, 'uptime'), '12345.67 23456.78\n')
  const health = await readHealth({ procRoot: proc, sysRoot: sys, disks: ['/', '/no/such/mount'] })
  assert.equal(health.cpuCelsius, 51.25)
  assert.deepEqual(health.load, [0.52, 0.31, 0.12])
  assert.deepEqual(health.memory, { totalBytes: 948280 * 1024, availableBytes: 612340 * 1024 })
  assert.equal(health.uptimeSeconds, 12345.67)
  assert.deepEqual(health.disks.map(d => d.mount), ['/'])
  assert.ok((health.disks[0]?.totalBytes ?? 0) > 0)

  const empty = await readHealth({ procRoot: path.join(root, 'none'), sysRoot: path.join(root, 'none'), disks: [] })
  assert.deepEqual(empty, { cpuCelsius: null, load: null, memory: null, disks: [], uptimeSeconds: null })
  assert.equal(parseLoad('garbage'), null)
  assert.equal(parseMeminfo('MemTotal: 1 kB\n'), null)
})

test('the system driver process emits health hooks and answers read', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'system', entry: 'drivers/system', config: { intervalMs: 1000 } }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const reply = await op.call('system', 'read')
  const health = reply.result as { load: number[], memory: { totalBytes: number }, disks: unknown[] }
  assert.equal(health.load.length, 3)
  assert.ok(health.memory.totalBytes > 0)
  assert.equal(health.disks.length, 1)
})
