// The deadline wheel (core/broker/deadline-wheel.ts) on sinon's fake clock: items expire within one granule
// of their deadline and never before it, removed ones never, and its one timer is set only while it holds something.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import { createDeadlineWheel } from '../../core/broker/deadline-wheel.js'

function wheel (t: { after (fn: () => void): void }) {
  const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout'] })
  const expired: string[] = []
  const w = createDeadlineWheel<string>({ granuleMs: 100, now: () => clock.now, expire: item => expired.push(`${item}@${clock.now}`) })
  t.after(() => {
    w.stop()
    clock.restore()
  })
  return { w, clock, expired }
}

test('an item expires at the first granule boundary at or after its deadline, never before', (t) => {
  const { w, clock, expired } = wheel(t)
  w.add('a', 150)
  w.add('b', 200)
  w.add('c', 1_000)
  clock.tick(199)
  assert.deepEqual(expired, [])
  clock.tick(1)
  assert.deepEqual(expired, ['a@200', 'b@200'])
  assert.equal(w.size, 1)
  clock.tick(799)
  assert.deepEqual(expired, ['a@200', 'b@200'], 'c is not due before 1000')
  clock.tick(1)
  assert.deepEqual(expired, ['a@200', 'b@200', 'c@1000'])
  assert.equal(w.size, 0)
  assert.equal(clock.countTimers(), 0, 'nothing held: no timer')
})

test('a removed item does not expire; a bucket emptied by removals costs one firing, which sets the timer for the next', (t) => {
  const { w, clock, expired } = wheel(t)
  const bucket = w.add('a', 100)
  w.add('b', 500)
  w.remove('a', bucket)
  w.remove('a', bucket) // twice: no harm
  assert.equal(w.size, 1)
  clock.tick(100)
  assert.deepEqual(expired, [])
  assert.equal(clock.countTimers(), 1, 'set again, for b')
  w.add('c', 250)
  clock.tick(400)
  assert.deepEqual(expired, ['c@300', 'b@500'])
  assert.equal(clock.countTimers(), 0)
})

test('an earlier deadline than the timer is set for sets it earlier; expiries added from expire() are kept', (t) => {
  const { w, clock, expired } = wheel(t)
  w.add('late', 10_000)
  w.add('soon', 50)
  clock.tick(100)
  assert.deepEqual(expired, ['soon@100'])
  const again = createDeadlineWheel<string>({ granuleMs: 100, now: () => clock.now, expire: item => { expired.push(`${item}@${clock.now}`); if (item === 'first') again.add('second', clock.now + 100) } })
  t.after(() => again.stop())
  again.add('first', 200)
  clock.tick(300)
  assert.deepEqual(expired.slice(1), ['first@200', 'second@300'])
  clock.tick(9_700)
  assert.deepEqual(expired.slice(-1), ['late@10000'])
})

test('stop() forgets everything and clears the timer', (t) => {
  const { w, clock, expired } = wheel(t)
  w.add('a', 100)
  w.stop()
  assert.equal(clock.countTimers(), 0)
  clock.tick(1_000)
  assert.deepEqual(expired, [])
})
