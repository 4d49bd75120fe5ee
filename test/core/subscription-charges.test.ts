// Review 8 of issue 10 (and the id a dropped reply's notice answers, direct.ts): a throttled SUBSCRIBE waits on one timer for the packet, not one per filter, and a
// connection that closes takes its timer with it (a timer per filter let one viewer hold 545 MiB after its
// connections were gone; UNSUBSCRIBEs made 1.9 million timers). Over real sockets: test/e2e/stuck-readers.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sinon from 'sinon'
import type { Client } from 'aedes'
import { MAX_SUBSCRIPTIONS, rateGate } from '../../core/broker/limits.js'
import { refusalLog } from '../../core/broker/refusal-log.js'
import { subscriptionCharges } from '../../core/broker/subscription-charges.js'
import { fakeClient } from '../helpers/fake-client.js'
import { waitLines } from '../../core/broker/wait-line.js'
import { MAX_OWED_JSON_BYTES, owedId } from '../../core/broker/direct.js'
import { encodeCbor } from '../../core/protocol/codec.js'


/** one SUBSCRIBE of `count` filters, as Aedes asks: one call per filter, all in one go */
function subscribe (charges: ReturnType<typeof subscriptionCharges>, client: Client, count: number, filter = (i: number): string => `hooks/f${i}/#`): { decided: number, failed: Error[] } {
  const outcome = { decided: 0, failed: [] as Error[] }
  for (let i = 0; i < count; i++) charges.charge(client, filter(i), () => { outcome.decided++ }, error => { outcome.failed.push(error) })
  return outcome
}

test('review 8: a throttled SUBSCRIBE waits on one timer, gone with its connection', async (t) => {
  const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  t.after(() => clock.restore())
  const gate = rateGate({ messagesPerSecond: 100, burst: 10, action: 'throttle' }, () => clock.now)
  const refusals: string[] = []
  const charges = subscriptionCharges(() => gate, waitLines(() => clock.now), (_, why) => refusals.push(why))
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
  const charges = subscriptionCharges(() => gate, waitLines(), (_, why) => refusals.push(why))
  const client = fakeClient('viewer')
  const many = subscribe(charges, client, MAX_SUBSCRIPTIONS + 1)
  await Promise.resolve()
  assert.equal(many.decided, 0)
  assert.equal(many.failed.length, MAX_SUBSCRIPTIONS + 1)
  assert.match(refusals[0] ?? '', new RegExp(`SUBSCRIBEs of one read named ${MAX_SUBSCRIPTIONS + 1} filters, more than a client may hold \\(${MAX_SUBSCRIPTIONS}\\)`))
  // the same filters twice in one read (two SUBSCRIBEs): what the client would hold is what counts
  const twice = subscribe(charges, fakeClient('twice'), 2 * 150, i => `hooks/f${i % 150}/#`)
  await Promise.resolve()
  assert.equal(twice.decided, 0, 'the disconnect listener\'s burst of 20 is less than 300 tokens')
  assert.equal(refusals.length, 2)
  assert.match(refusals[1] ?? '', /over the listener's rate limit/)
  refusals.pop()
  const within = subscribe(charges, client, 20)
  await Promise.resolve()
  assert.equal(within.decided, 20)
  const over = subscribe(charges, client, 2)
  await Promise.resolve()
  assert.equal(over.failed.length, 2)
  assert.equal(refusals.length, 2)
  assert.match(refusals[1] ?? '', /over the listener's rate limit/)
})

test('review 8: an UNSUBSCRIBE is charged after: under throttle the shared debt stops at a burst and each connection is held to the rate on its own bucket; past the tokens under disconnect; past the filter cap the client goes at once', () => {
  const throttled = rateGate({ messagesPerSecond: 1, burst: 100, action: 'throttle' }, () => 0)
  const charges = subscriptionCharges(() => throttled, waitLines(() => 0), () => {})
  const client = fakeClient('viewer')
  const sibling = fakeClient('viewer-2')
  assert.equal(charges.unsubscribed(client, MAX_SUBSCRIPTIONS + 1)?.includes(`named ${MAX_SUBSCRIPTIONS + 1} filters`), true)
  assert.equal(charges.unsubscribed(client, 100), null, 'its own burst')
  assert.match(charges.unsubscribed(client, 1) ?? '', /unsubscribing from more filters than the listener's rate \(1 a second, bursts of 100\)/)
  for (let i = 0; i < 10; i++) assert.equal(charges.unsubscribed(fakeClient(`other-${i}`), 100), null, 'another connection of the user: its own count, never closed for the others')
  assert.equal(charges.unsubscribed(sibling, 100), null)
  assert.equal(throttled.take(1), 101_000, 'the shared bucket: a burst owed, and one more')
  const strict = rateGate({ messagesPerSecond: 1, burst: 100, action: 'disconnect' }, () => 0)
  const strictCharges = subscriptionCharges(() => strict, waitLines(() => 0), () => {})
  assert.equal(strictCharges.unsubscribed(client, 100), null)
  assert.match(strictCharges.unsubscribed(client, 1) ?? '', /over the listener's rate limit/)
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

test('review 8: a dropped reply is owed its notice under the id the router read: a JSON reply with two ids is owed the last, as JSON.parse reads it', () => {
  assert.equal(owedId(Buffer.from('{"id":6000,"id":7,"result":1}'), 'json'), 7)
  assert.equal(owedId(Buffer.from('{"id":6000,"\\u0069d":7,"result":1}'), 'json'), 7)
  assert.equal(owedId(Buffer.from(' { "id" : "abc", "result": null }'), 'json'), 'abc')
  assert.equal(owedId(Buffer.from('{"result":1}'), 'json'), null)
  assert.equal(owedId(Buffer.from('not json'), 'json'), null)
  assert.equal(owedId(Buffer.from(`{"id":1,"result":"${'x'.repeat(MAX_OWED_JSON_BYTES)}"}`), 'json'), null, 'past MAX_OWED_JSON_BYTES it is not read')
  assert.equal(owedId(encodeCbor({ id: 2n ** 40n, result: 'x' }), 'cbor'), 2n ** 40n)
  assert.equal(owedId(encodeCbor({ result: 'x', id: 3 }), 'cbor'), 3)
})
