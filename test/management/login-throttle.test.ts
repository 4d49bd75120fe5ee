// Password guessing is slowed per address (core/broker/login-throttle.ts), on a fake clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLoginThrottle } from '../../core/broker/login-throttle.js'

const limits = { failures: 5, windowMs: 60_000, blockMs: 60_000 }

test('five failures within the window block the address for the block time; the block starts once', () => {
  let t = 1_000
  const logins = createLoginThrottle(() => t, limits)
  for (let i = 0; i < 4; i++) {
    assert.equal(logins.failed('10.0.0.9'), false)
    t += 1000
  }
  assert.equal(logins.refusedFor('10.0.0.9'), null)
  assert.equal(logins.failed('10.0.0.9'), true, 'the fifth failure starts the block')
  assert.equal(logins.refusedFor('10.0.0.9'), 60_000)
  assert.equal(logins.refusedFor('10.0.0.10'), null, 'other addresses are not touched')
  t += 30_000
  assert.equal(logins.failed('10.0.0.9'), false, 'a failure during the block does not start another')
  assert.equal(logins.refusedFor('10.0.0.9'), 30_000, 'nor prolong it')
  t += 30_000
  assert.equal(logins.refusedFor('10.0.0.9'), null)
  assert.equal(logins.failed('10.0.0.9'), false, 'after the block, counting starts again')
})

test('failures spread wider than the window never add up to a block', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) assert.equal(logins.failed('10.0.0.9'), false)
    t += 61_000
  }
  assert.equal(logins.refusedFor('10.0.0.9'), null)
})
