// Password guessing is slowed per address and per user name, never locked out (core/broker/login-throttle.ts), on a fake clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LOGIN_THROTTLE, createLoginThrottle } from '../../core/broker/login-throttle.js'

// the defaults but a lower rate and a smaller burst, so the numbers below are short
const limits = { ...LOGIN_THROTTLE, checksPerSecond: 2, burst: 5 }

test('issue 10 review: an address gets `burst` checks at once, then one per 1/checksPerSecond, each reserved in turn (a wait, never a refusal)', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  for (let i = 0; i < 5; i++) assert.equal(logins.begin('10.0.0.9', 'admin'), 0, `check ${i + 1} of the burst runs now`)
  assert.equal(logins.begin('10.0.0.9', 'admin'), 500, 'the sixth waits for the next token')
  assert.equal(logins.begin('10.0.0.9', 'viewer'), 1000, 'the seventh for the one after, whatever the user')
  assert.equal(logins.begin('10.0.0.10', 'admin'), 0, 'another address is not touched')
  assert.deepEqual(logins.counts(), { delayed: 2, busy: 0, usersBackingOff: 0 })
})

test('issue 10 review: at most `inFlight` checks wait or run per address; a settled one frees its place', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  for (let i = 0; i < 8; i++) assert.notEqual(logins.begin('10.0.0.9', 'admin'), null)
  assert.equal(logins.begin('10.0.0.9', 'admin'), null, 'the ninth at once is refused (CONNACK 3)')
  assert.notEqual(logins.begin('10.0.0.10', 'admin'), null, 'another address is not touched')
  logins.settle('10.0.0.9', 'admin', true)
  t += 10_000
  assert.equal(logins.begin('10.0.0.9', 'admin'), 0, 'one settled: the address may check again, and its rate has refilled')
  assert.equal(logins.counts().busy, 1)
})

test('issue 10 review: past `userFailures` failures a user\'s checks are spaced, from every address, doubling up to maxBackoffMs; never refused', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  // ten failures from ten addresses (a guesser with many addresses)
  for (let i = 0; i < 9; i++) {
    assert.equal(logins.begin(`10.0.1.${i}`, 'admin'), 0)
    assert.equal(logins.settle(`10.0.1.${i}`, 'admin', true), false)
  }
  assert.equal(logins.begin('10.0.1.9', 'admin'), 0)
  assert.equal(logins.settle('10.0.1.9', 'admin', true), true, 'the tenth failure starts the spacing (one log line)')
  assert.equal(logins.counts().usersBackingOff, 1)
  // from fresh addresses, checks of admin now take turns backoffMs apart (the first may run at once)
  assert.equal(logins.begin('10.0.2.1', 'admin'), 0)
  assert.equal(logins.begin('10.0.2.2', 'admin'), 250)
  assert.equal(logins.begin('10.0.2.3', 'admin'), 500)
  assert.equal(logins.begin('10.0.2.4', 'viewer'), 0, 'another user is not touched')
  for (const a of ['10.0.2.1', '10.0.2.2', '10.0.2.3']) logins.settle(a, 'admin', true)
  // 13 failures: the spacing has doubled three times, and stops at maxBackoffMs
  t += 1000
  assert.equal(logins.begin('10.0.2.5', 'admin'), 0)
  assert.equal(logins.begin('10.0.2.6', 'admin'), 2000, 'spaced 2000 ms (250 × 2^3), the maximum')
  for (let i = 0; i < 10; i++) logins.settle('10.0.2.7', 'admin', true)
  assert.equal(logins.begin('10.0.2.7', 'admin'), 4000, 'still 2000 ms apart after many more failures: slowed, never locked')
  // a window without failures forgets them
  t += 60_001
  assert.equal(logins.begin('10.0.2.8', 'admin'), 0)
  assert.equal(logins.counts().usersBackingOff, 0)
})

test('issue 10 review: a success forgets no failures; CONNECTs at once get no more checks than the same one after another', () => {
  let t = 0
  const logins = createLoginThrottle(() => t, limits)
  for (let i = 0; i < 10; i++) {
    logins.begin(`10.0.3.${i}`, 'admin')
    logins.settle(`10.0.3.${i}`, 'admin', true)
  }
  logins.begin('10.0.3.100', 'admin')
  assert.equal(logins.settle('10.0.3.100', 'admin', false), false)
  assert.equal(logins.counts().usersBackingOff, 1, 'the operator\'s own login does not give a guesser ten new free tries')
  // eight at once from one address: each reserved after the other, as if sent one after another
  const waits = Array.from({ length: 8 }, () => logins.begin('10.0.4.1', 'someone'))
  assert.deepEqual(waits, [0, 0, 0, 0, 0, 500, 1000, 1500])
})
