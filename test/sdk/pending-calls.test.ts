// The SDK's table of pending calls on a sinon fake clock: one timer for every deadline, each call failed
// when its own deadline comes (not before, nor after the next millisecond), whatever else is pending.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import { pendingCalls } from '../../core/sdk/pending-calls.js'
import type { PendingCalls } from '../../core/sdk/pending-calls.js'

interface Call {
  name: string
  deadline: number
}

interface Setup {
  clock: sinon.SinonFakeTimers
  /** the names of the calls timed out, in order */
  expired: string[]
  add: (id: number | string, timeoutMs: number) => void
  calls: PendingCalls<Call>
}

function setup (t: { after: (fn: () => void) => void }): Setup {
  const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  t.after(() => clock.restore())
  const expired: string[] = []
  const calls = pendingCalls<Call>(call => expired.push(call.name))
  const add = (id: number | string, timeoutMs: number): void => calls.add(id, { name: `call ${id}`, deadline: performance.now() + timeoutMs })
  return { clock, expired, add, calls }
}

test('a call that gets no answer times out at its deadline', (t) => {
  const { clock, expired, add, calls } = setup(t)
  add(1, 100)
  clock.tick(99)
  assert.deepEqual(expired, [])
  clock.tick(1)
  assert.deepEqual(expired, ['call 1'])
  assert.equal(calls.take(1), undefined, 'a timed-out call is no longer pending (a late reply is dropped)')
  assert.equal(clock.countTimers(), 0, 'nothing pending, nothing scheduled')
})

test('calls one after another share one timer, and an answered call never times out', (t) => {
  const { clock, expired, add, calls } = setup(t)
  for (let id = 1; id <= 1000; id++) {
    add(id, 5000)
    clock.tick(3)
    assert.equal(calls.take(id)?.name, `call ${id}`)
    assert.ok(clock.countTimers() <= 1)
  }
  add(1001, 5000)
  clock.tick(10_000)
  assert.deepEqual(expired, ['call 1001'], 'the timer set for the first call, long answered, moved on to the last')
})

test('each call times out on time, whatever the order of their timeouts', (t) => {
  const { clock, expired, add } = setup(t)
  add(1, 5000) // due at 5000
  clock.tick(1000)
  add(2, 100) // due at 1100: earlier than the timer is set for
  add(3, 2000) // due at 3000
  clock.tick(99)
  assert.deepEqual(expired, [])
  clock.tick(1)
  assert.deepEqual(expired, ['call 2'])
  clock.tick(1899)
  assert.deepEqual(expired, ['call 2'])
  clock.tick(1)
  assert.deepEqual(expired, ['call 2', 'call 3'])
  clock.tick(1999)
  assert.deepEqual(expired, ['call 2', 'call 3'])
  clock.tick(1)
  assert.deepEqual(expired, ['call 2', 'call 3', 'call 1'])
})

test('a deadline between milliseconds fires within the next one', (t) => {
  const { clock, expired, add } = setup(t)
  clock.tick(0.4)
  add(1, 250) // due at 250.4
  clock.tick(249)
  assert.deepEqual(expired, [])
  clock.tick(2)
  assert.deepEqual(expired, ['call 1'])
})

test('a timeout beyond what setTimeout takes waits the longest it can, not 1 ms', (t) => {
  const { clock, expired, add } = setup(t)
  const setTimeoutSpy = sinon.spy(globalThis, 'setTimeout') // on the fake clock's: restored before it
  try {
    add(1, 2 ** 40)
    clock.tick(60_000)
    assert.deepEqual(expired, [])
    assert.equal(setTimeoutSpy.callCount, 1)
  } finally {
    setTimeoutSpy.restore()
  }
})

test('drain hands back every pending call and cancels the timer', (t) => {
  const { clock, expired, add, calls } = setup(t)
  add(1, 100)
  add('two', 200)
  assert.deepEqual(calls.drain().map(c => c.name), ['call 1', 'call two'])
  assert.equal(clock.countTimers(), 0)
  clock.tick(1000)
  assert.deepEqual(expired, [])
})

test('peek looks at a pending call and leaves it pending, to time out or be taken', (t) => {
  const { clock, expired, add, calls } = setup(t)
  add(1, 100)
  add(2, 100)
  assert.equal(calls.peek(1)?.name, 'call 1')
  assert.equal(calls.peek(3), undefined)
  assert.equal(calls.take(1)?.name, 'call 1', 'still pending after a peek')
  assert.equal(calls.peek(1), undefined, 'taken')
  assert.equal(calls.peek(2)?.name, 'call 2')
  clock.tick(100)
  assert.deepEqual(expired, ['call 2'], 'a peeked call still times out')
})
