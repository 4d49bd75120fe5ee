// Review: a module's config travels in a file of the runtime folder (secrets among its values); the file is
// there while the module runs and gone once the gateway has stopped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGateway } from '../../core/gateway.js'
import { createCoreLog } from '../../core/log.js'
import { fixture } from '../helpers/gateway.js'

test('review: a module\'s config file lives while the gateway runs and is removed when it stops', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-config-files-'))
  try {
    const manifestFile = path.join(dir, 'gateway.json')
    writeFileSync(manifestFile, JSON.stringify({ gateway: 'cfg', board: 'sim', broker: { listeners: [] }, modules: [{ name: 'alpha', entry: fixture('echo'), config: { apiKey: 'secret-4' } }] }))
    const runtimeDir = path.join(dir, 'run')
    const gateway = await startGateway({ manifestFile, log: createCoreLog({ level: 'error', write: () => {} }), runtimeDir })
    const file = path.join(runtimeDir, 'alpha.config.json')
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { apiKey: 'secret-4' })
    await gateway.stop()
    assert.equal(existsSync(file), false)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
