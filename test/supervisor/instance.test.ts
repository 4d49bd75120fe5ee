// One instance under supervision, as the module state document shows it before anything happened to it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createInstance } from '../../core/supervisor/instance.js'
import { DEFAULT_POLICY } from '../../core/supervisor/policy.js'
import { describeState } from '../../core/modules/state.js'
import type { ModuleRuntime } from '../../core/modules/table.js'

test('an instance never started has been stopped since it was made, not since the epoch', () => {
  const made = 1_795_000_000_000
  const instance = createInstance(0, () => DEFAULT_POLICY, {
    prepare: () => assert.fail('nothing starts it'),
    onLine: () => {},
    onState: () => {},
  }, { now: () => made, random: Math.random })
  const runtime = { loaded: { spec: { name: 'idle' } }, instances: [instance] } as unknown as ModuleRuntime
  assert.deepEqual(describeState(runtime).instances, [{ instance: 0, state: 'stopped', pid: null, since: made, restarts: 0, lastExit: null }])
})
