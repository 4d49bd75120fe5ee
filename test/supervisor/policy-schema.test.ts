// The manifest's `restart` section: every field optional over the defaults, layered gateway then module.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mergePolicy } from '../../core/supervisor/merge-policy.js'
import { DEFAULT_POLICY } from '../../core/supervisor/policy.js'
import { restartPolicySchema } from '../../core/supervisor/policy-schema.js'

test('an empty section is the defaults; layers override field by field', () => {
  assert.deepEqual(mergePolicy(restartPolicySchema.parse({})), DEFAULT_POLICY)
  const gateway = restartPolicySchema.parse({ backoff: { maxMs: 5000 }, intensity: { windowMs: 30_000 } })
  const module = restartPolicySchema.parse({ restart: 'never', backoff: { initialMs: 20 } })
  assert.deepEqual(mergePolicy(gateway, undefined, module), {
    ...DEFAULT_POLICY,
    restart: 'never',
    backoff: { ...DEFAULT_POLICY.backoff, initialMs: 20, maxMs: 5000 },
    intensity: { ...DEFAULT_POLICY.intensity, windowMs: 30_000 },
  })
})

test('out-of-range values and unknown keys are refused, with the path', () => {
  for (const [input, path] of [
    [{ backoff: { jitter: 1.5 } }, 'backoff.jitter'],
    [{ backoff: { factor: 0.5 } }, 'backoff.factor'],
    [{ restart: 'sometimes' }, 'restart'],
    [{ intensity: { maxRestarts: -1 } }, 'intensity.maxRestarts'],
    [{ stopTimeoutMs: 10 }, 'stopTimeoutMs'],
    [{ backof: {} }, ''],
  ] as const) {
    const result = restartPolicySchema.safeParse(input)
    assert.equal(result.success, false, JSON.stringify(input))
    assert.equal(result.error?.issues[0]?.path.join('.'), path, JSON.stringify(input))
  }
})
