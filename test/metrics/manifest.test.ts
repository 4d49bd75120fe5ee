// Issue 13: the manifest's `metrics` section becomes the built-in module `metrics` (core/manifest/metrics.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { validateManifest } from '../../core/manifest/load.js'
import { OutpostError } from '../../core/errors.js'

const FILE = '/etc/outpost/gateway.json'

test('issue 13: no metrics section, no endpoint; a section starts the module on loopback with the documented limits, calling core only', async () => {
  const without = await validateManifest({ gateway: 'g', board: 'sim' }, FILE)
  assert.equal(without.modules.length, 0)
  const loaded = await validateManifest({ gateway: 'g', board: 'sim', metrics: { port: 9100 } }, FILE)
  const spec = loaded.modules.find(m => m.spec.name === 'metrics')?.spec
  assert.equal(spec?.entry, 'modules/metrics')
  assert.deepEqual(spec?.calls, ['core'])
  assert.deepEqual(spec?.config, {
    host: '127.0.0.1',
    port: 9100,
    cacheMs: 1000,
    limits: { maxConnections: 16, maxHeaderBytes: 8192, headersTimeoutMs: 5000, keepAliveTimeoutMs: 5000 },
    gateway: 'g',
  })
})

test('issue 13: the name metrics is reserved, and a limit out of range is refused with its path', async () => {
  await assert.rejects(validateManifest({ gateway: 'g', board: 'sim', modules: [{ name: 'metrics', command: ['true'] }] }, FILE),
    (err: unknown) => err instanceof OutpostError && /modules\[0\]\.name: "metrics" is reserved/.test(err.message))
  await assert.rejects(validateManifest({ gateway: 'g', board: 'sim', metrics: { limits: { maxConnections: 0 } } }, FILE),
    (err: unknown) => err instanceof OutpostError && /metrics\.limits\.maxConnections/.test(err.message))
})
