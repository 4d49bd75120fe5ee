// Review 8 of issue 10: a throttled SUBSCRIBE waits on one timer for the packet, not one per filter, and a
// connection that closes takes its timer with it (a timer per filter let one viewer hold 545 MiB after its
// connections were gone; UNSUBSCRIBEs made 1.9 million timers). Over real sockets: test/e2e/stuck-readers.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import sinon from 'sinon'
import type { Client } from 'aedes'
import { MAX_SUBSCRIPTIONS, rateGate } from '../../core/broker/limits.js'
import { refusalLog } from '../../core/broker/refusal-log.js'
import { subscriptionCharges } from '../../core/broker/subscription-charges.js'

const fakeClient = (id: string): Client & { conn: EventEmitter } => ({ id, conn: new EventEmitter() }) as unknown as Client & { conn: EventEmitter }

/** one SUBSCRIBE of `count` filters, as Aedes asks: one call per filter, all in one go */
function subscribe (charges: ReturnType<typeof subscriptionCharges>, client: Client, count: number): { decided: number, failed: Error[] } {
  const outcome = { decided: 0, failed: [] as Error[] }
  for (let i = 0; i < count; i++) charges.charge(client, () => { outcome.decided++ }, error => { outcome.failed.push(error) })
  return outcome
}

test('review 8: a throttled SUBSCRIBE waits on one timer, gone with its connection', async (t) => {
  const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  t.after(() => clock.restore())
  const gate = rateGate({ messagesPerSecond: 100, burst: 10, action: 'throttle' }, () => clock.now)
  const refusals: string[] = []
  const charges = subscriptionCharges(() => gate, (_, why) => refusals.push(why))
  const client = fakeClient('viewer')

  const first = subscribe(charges, client, 10) // the burst: decided at once
  await Promise.resolve()
  assert.equal(first.decided, 10)
  assert.equal(clock.countTimers(), 0)

  const second = subscribe(charges, client, MAX_SUBSCRIPTIONS) // throttled: 256 tokens owed, 2.56 s at 100 a second
  await Promise.resolve()
  assert.equal(second.decided, 0)
  assert.equal(clock.countTimers(), 1, 'one timer for the packet')
  clock.tick(2559)
  assert.equal(second.decided, 0)
  clock.tick(1)
  assert.equal(second.decided, MAX_SUBSCRIPTIONS)

  const third = subscribe(charges, client, 5)
  await Promise.resolve()
  assert.equal(clock.countTimers(), 1)
  client.conn.emit('close')
  assert.equal(clock.countTimers(), 0, 'the connection closed: its timer with it')
  clock.tick(10_000)
  assert.equal(third.decided, 0)
  assert.deepEqual(refusals, [])
})

test(`review 8: a SUBSCRIBE of more than ${MAX_SUBSCRIPTIONS} filters, or one past the rate on a disconnect listener, fails every filter and is told once`, async () => {
  const refusals: string[] = []
  const gate = rateGate({ messagesPerSecond: 1, burst: 20, action: 'disconnect' })
  const charges = subscriptionCharges(() => gate, (_, why) => refusals.push(why))
  const client = fakeClient('viewer')
  const many = subscribe(charges, client, MAX_SUBSCRIPTIONS + 1)
  await Promise.resolve()
  assert.equal(many.decided, 0)
  assert.equal(many.failed.length, MAX_SUBSCRIPTIONS + 1)
  assert.match(refusals[0] ?? '', new RegExp(`named ${MAX_SUBSCRIPTIONS + 1} filters, more than a client may hold \\(${MAX_SUBSCRIPTIONS}\\)`))
  const within = subscribe(charges, client, 20)
  await Promise.resolve()
  assert.equal(within.decided, 20)
  const over = subscribe(charges, client, 2)
  await Promise.resolve()
  assert.equal(over.failed.length, 2)
  assert.equal(refusals.length, 2)
  assert.match(refusals[1] ?? '', /over the listener's rate limit/)
})

test('review 8: an UNSUBSCRIBE is charged after: a throttled client may owe up to a burst, then goes; past the filter cap it goes at once', () => {
  const throttled = rateGate({ messagesPerSecond: 1, burst: 100, action: 'throttle' }, () => 0)
  const charges = subscriptionCharges(() => throttled, () => {})
  const client = fakeClient('viewer')
  assert.equal(charges.unsubscribed(client, MAX_SUBSCRIPTIONS + 1)?.includes(`named ${MAX_SUBSCRIPTIONS + 1} filters`), true)
  assert.equal(charges.unsubscribed(client, 100), null) // the burst
  assert.equal(charges.unsubscribed(client, 100), null) // owes a burst
  assert.match(charges.unsubscribed(client, 1) ?? '', /over the listener's rate limit/)
})

test('review 8: refused subscriptions are folded per kind of filter, and what was counted is told when the client goes', () => {
  let now = 0
  const log = refusalLog(60_000, () => now)
  const client = fakeClient('viewer')
  assert.match(log.refused(client, 'reply/a', 'no') ?? '', /^no \(further refused subscriptions to filters under reply\/ of this client within 60 s/)
  assert.equal(log.refused(client, 'reply/b', 'no'), null)
  assert.equal(log.refused(client, 'reply/c', 'no'), null)
  assert.match(log.refused(client, '$SYS/#', 'no') ?? '', /filters under \$SYS\//)
  assert.match(log.refused(client, '$share/x', 'no') ?? '', /filters starting with \$/)
  assert.match(log.refused(client, 'rpc/core/list', 'no') ?? '', /filters under rpc\//)
  assert.match(log.refused(client, 'hooks/x', 'no') ?? '', /other filters/)
  now = 60_000
  assert.match(log.refused(client, 'reply/d', 'no') ?? '', /; 2 more refused since the last one told\)$/)
  assert.equal(log.refused(client, 'reply/e', 'no'), null)
  assert.deepEqual(log.gone(client), ['1 more subscription(s) to filters under reply/ were refused since the last one told'])
  assert.deepEqual(log.gone(client), [])
})
