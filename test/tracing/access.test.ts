// The access rules query tracking adds (core/broker/access.ts): the spans topic family, and the tracing
// module's read-only methods for viewers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { canPublish, canRead, canSubscribe } from '../../core/broker/access.js'
import type { Identity } from '../../core/broker/access.js'
import { parseTopic } from '../../core/protocol/topics.js'
import { validateManifest } from '../../core/manifest/load.js'

const sensor: Identity = { kind: 'module', clientId: 'sensor.1', module: 'sensor', instance: 1, calls: '*' }
const admin: Identity = { kind: 'operator', clientId: 'ops', user: 'ops', role: 'admin' }
const viewer: Identity = { kind: 'operator', clientId: 'eyes', user: 'eyes', role: 'viewer' }

test('issue 13: spans/<module>/<instance> is published by that instance alone, never by an operator; modules and operators may read it', () => {
  assert.deepEqual(parseTopic('spans/sensor/1'), { kind: 'spans', owner: 'sensor', name: '1' })
  assert.equal(parseTopic('spans/sensor'), null)
  assert.equal(parseTopic('spans/sensor/1/x'), null)
  assert.equal(canPublish(sensor, 'spans/sensor/1'), true)
  assert.equal(canPublish(sensor, 'spans/sensor/0'), false, 'another instance of its own module')
  assert.equal(canPublish(sensor, 'spans/relay/1'), false, 'another module')
  assert.equal(canPublish(sensor, 'spans/sensor/1/x'), false)
  assert.equal(canPublish(admin, 'spans/sensor/1'), false)
  assert.equal(canPublish(viewer, 'spans/sensor/1'), false)
  assert.equal(canSubscribe(sensor, 'spans/+/+'), true)
  assert.equal(canRead(sensor, 'spans/relay/0'), true)
  assert.equal(canRead(viewer, 'spans/relay/0'), true)
})

test('issue 13: a viewer may call the tracing module\'s list, show and stats, and nothing else of it', () => {
  for (const method of ['list', 'show', 'stats']) assert.equal(canPublish(viewer, `rpc/tracing/${method}`), true, method)
  assert.equal(canPublish(viewer, 'rpc/tracing/clear'), false)
  assert.equal(canPublish(viewer, 'rpc/sensor/list'), false, 'the rule is for the tracing module only')
  assert.equal(canPublish(viewer, 'rpc/core/list'), true)
  assert.equal(canPublish(viewer, 'rpc/core/stop'), false)
})

test('issue 13: the name "tracing" is the shipped tracing module\'s alone, since viewers may call its read methods', async () => {
  await assert.rejects(validateManifest({ gateway: 'g', board: 'sim', modules: [{ name: 'tracing', command: ['true'] }] }, '/etc/outpost/gateway.json'),
    /modules\[0\] \(tracing\): "tracing" is reserved for the shipped tracing module: its entry must be "modules\/tracing"/)
  await validateManifest({ gateway: 'g', board: 'sim', modules: [{ name: 'tracing', entry: 'modules/tracing' }] }, '/etc/outpost/gateway.json')
})
