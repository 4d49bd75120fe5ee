// Debounce on a fake clock: what counts as an edge, and which timestamp it keeps.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import { createDebouncer } from '../../drivers/lib/gpio/debounce.js'

function recorder (): { events: Array<[number, bigint]>, emit: (value: 0 | 1, ts: bigint) => void } {
  const events: Array<[number, bigint]> = []
  return { events, emit: (value, ts) => { events.push([value, ts]) } }
}

test('a bouncing contact yields one edge once the level has held, stamped when it settled', (t) => {
  const clock = sinon.useFakeTimers()
  t.after(() => clock.restore())
  const { events, emit } = recorder()
  const debouncer = createDebouncer(20, 0, emit)
  debouncer.push(1, 100n)
  clock.tick(5)
  debouncer.push(0, 105n)
  clock.tick(5)
  debouncer.push(1, 110n)
  clock.tick(19)
  assert.deepEqual(events, [], 'not yet held for 20 ms')
  clock.tick(1)
  assert.deepEqual(events, [[1, 110n]])
  debouncer.push(1, 200n)
  clock.tick(50)
  assert.deepEqual(events, [[1, 110n]], 'the same level again is no edge')
})

test('a glitch that returns to the stable level within the window is no edge', (t) => {
  const clock = sinon.useFakeTimers()
  t.after(() => clock.restore())
  const { events, emit } = recorder()
  const debouncer = createDebouncer(20, 1, emit)
  debouncer.push(0, 1n)
  clock.tick(10)
  debouncer.push(1, 2n)
  clock.tick(100)
  assert.deepEqual(events, [])
})

test('without a debounce time every change is an edge at once; stop drops a pending one', (t) => {
  const clock = sinon.useFakeTimers()
  t.after(() => clock.restore())
  const direct = recorder()
  const undebounced = createDebouncer(0, 0, direct.emit)
  undebounced.push(1, 1n)
  undebounced.push(0, 2n)
  undebounced.push(0, 3n)
  assert.deepEqual(direct.events, [[1, 1n], [0, 2n]])
  const stopped = recorder()
  const debouncer = createDebouncer(20, 0, stopped.emit)
  debouncer.push(1, 1n)
  debouncer.stop()
  clock.tick(100)
  assert.deepEqual(stopped.events, [])
})
