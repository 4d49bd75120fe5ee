// Password guessing is slowed per address (core/broker/login-throttle.ts), on a fake clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLoginThrottle } from '../../core/broker/login-throttle.js'

const limits = { failures: 5, windowMs: 60_000, blockMs: 60_000 }

/** one password check from the address, begun and settled as failed: whether it started a block */
function failed (logins: ReturnType<typeof createLoginThrottle>, address: string): boolean {
  assert.equal(logins.begin(address), true, 'the check may run')
  return logins.settle(address, true)
}

test('five failures within the window block the address for the block time; the block starts once', () => {
  let t = 1_000
  const logins = createLoginThrottle(() => t, limits)
  for (let i = 0; i < 4; i++) {
    assert.equal(failed(logins, '10.0.0.9'), false)
    t += 1000
  }
  assert.equal(logins.refusedFor('10.0.0.9'), null)
  assert.equal(failed(logins, '10.0.0.9'), true, 'the fifth failure starts the block')
  assert.equal(logins.refusedFor('10.0.0.9'), 60_000)
  assert.equal(logins.refusedFor('10.0.0.10'), null, 'other addresses are not touched')
  t += 30_000
  assert.equal(logins.settle('10.0.0.9', true), false, 'a check that began before the block and fails during it does not start another')
  assert.equal(logins.refusedFor('10.0.0.9'), 30_000, 'nor prolong it')
  t += 30_000
  assert.equal(logins.refusedFor('10.0.0.9'), null)
  assert.equal(failed(logins, '10.0.0.9'), false, 'after the block, counting starts again')
})

test('failures spread wider than the window never add up to a block', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) assert.equal(failed(logins, '10.0.0.9'), false)
    t += 61_000
  }
  assert.equal(logins.refusedFor('10.0.0.9'), null)
})

test('issue 10 A5: checks still running count as failures, so parallel guesses get no more tries than serial ones', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  for (let i = 0; i < 5; i++) assert.equal(logins.begin('10.0.0.9'), true, `check ${i + 1} of 5 may run`)
  assert.equal(logins.begin('10.0.0.9'), false, 'a sixth at once may not')
  assert.equal(logins.begin('10.0.0.10'), true, 'another address is not touched')
  assert.equal(logins.settle('10.0.0.9', false), false)
  assert.equal(logins.begin('10.0.0.9'), true, 'a success frees its slot')
  for (let i = 0; i < 4; i++) assert.equal(logins.settle('10.0.0.9', true), false)
  assert.equal(logins.begin('10.0.0.9'), false, 'four failures and one check running: the limit')
  assert.equal(logins.settle('10.0.0.9', true), true, 'the fifth failure starts the block')
  assert.equal(logins.refusedFor('10.0.0.9'), 60_000)
  t += 60_000
  assert.equal(logins.refusedFor('10.0.0.9'), null)
  assert.equal(logins.begin('10.0.0.9'), true, 'after the block, counting starts again')
})
