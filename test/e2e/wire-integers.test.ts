// issue 10 B3: the numbers of the protocol's own fields travel as CBOR integers (docs/protocol.md,
// "Envelopes"), read from the raw bytes a real gateway publishes: cbor-x writes a JavaScript number beyond
// 32 bits as a float64, and `since`, `lastExit.at` and a hook's `ts` used to travel so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import { at, cborItem } from '../helpers/cbor-items.js'
import type { Item } from '../helpers/cbor-items.js'
import { decodeCbor } from '../../core/protocol/codec.js'

/** a whole number as the protocol sends it: major type 0 (unsigned integer) */
function assertInteger (item: Item, what: string): void {
  assert.equal(item.major, 0, `${what} travels as a CBOR unsigned integer (major type 0), not major type ${item.major} (info ${item.info})`)
}

/** a time in ms since the epoch: an integer of 8 bytes (0x1b), close to now */
function assertTime (item: Item, what: string): void {
  assertInteger(item, what)
  assert.equal(item.info, 27, `${what} is a 64-bit integer`)
  const ms = Number(item.value)
  assert.ok(Math.abs(ms - Date.now()) < 60_000, `${what} = ${ms} is a time in ms near now`)
}

test('issue 10 B3: state, presence, hooks (the core\'s and a module\'s) and replies carry their numbers as CBOR integers', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }] })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  const raw: Array<{ topic: string, payload: Buffer }> = []
  op.client.on('message', (topic, payload) => { raw.push({ topic, payload }) })
  await op.client.subscribeAsync(['state/alpha', 'presence/alpha/0', 'hooks/#'])

  // a restart gives the state document a lastExit
  assert.equal(((await op.call('core', 'restart', { module: 'alpha' }, 15_000)).result as { state: string }).state, 'running')
  const state = await waitFor('a state document with a last exit', () => raw.findLast(m => {
    if (m.topic !== 'state/alpha') return false
    const doc = decodeCbor(m.payload) as { state: string, instances: Array<{ lastExit: unknown }> }
    return doc.state === 'running' && doc.instances[0]?.lastExit !== null
  }))
  const doc = cborItem(state.payload)
  assertTime(at(doc, 'instances', 0, 'since'), 'state: since')
  assertTime(at(doc, 'instances', 0, 'lastExit', 'at'), 'state: lastExit.at')
  for (const field of ['instance', 'pid', 'restarts']) assertInteger(at(doc, 'instances', 0, field), `state: ${field}`)
  // a JavaScript reader (the SDK, the CLI) decodes the 64-bit integer as a number
  const decoded = decodeCbor(state.payload) as { instances: Array<{ since: unknown, lastExit: { at: unknown } }> }
  assert.equal(typeof decoded.instances[0]?.since, 'number')
  assert.equal(typeof decoded.instances[0]?.lastExit.at, 'number')

  const presence = await waitFor('a ready presence', () => raw.findLast(m => m.topic === 'presence/alpha/0' && (decodeCbor(m.payload) as { state: string }).state === 'ready'))
  assertInteger(at(cborItem(presence.payload), 'pid'), 'presence: pid')

  // a module's hook (the SDK writes the envelope) and the core's own (hooks/core/log/<source>)
  assert.equal((await op.call('alpha', 'emit', { hook: 'ping', data: 1 })).result, true)
  const hook = await waitFor('the module\'s hook', () => raw.find(m => m.topic === 'hooks/alpha/ping'))
  assertTime(at(cborItem(hook.payload), 'ts'), 'module hook: ts')
  assertInteger(at(cborItem(hook.payload), 'instance'), 'module hook: instance')
  const coreHook = await waitFor('a core hook', () => raw.find(m => m.topic.startsWith('hooks/core/')))
  assertTime(at(cborItem(coreHook.payload), 'ts'), `${coreHook.topic}: ts`)
  assertInteger(at(cborItem(coreHook.payload), 'instance'), `${coreHook.topic}: instance`)

  // a reply from core, and the broker's own answer, echo the id as the integer it was sent as
  const replies: Buffer[] = []
  op.client.on('message', (topic, payload) => { if (topic === `reply/${op.clientId}`) replies.push(payload) })
  await op.call('core', 'list')
  await op.call('nobody', 'x')
  assert.equal(replies.length, 2)
  for (const reply of replies) assertInteger(at(cborItem(reply), 'id'), 'reply: id')
})
