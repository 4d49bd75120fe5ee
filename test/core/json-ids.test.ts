// JSON request ids as docs/protocol.md states them: an id is the value JSON.parse reads, whatever its
// spelling, on the router's side and on the callee's (the SDK and core answer with it in its shortest form).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRpcRouter } from '../../core/broker/rpc-router.js'
import type { Identity } from '../../core/broker/access.js'
import { serveRequest } from '../../core/protocol/serve.js'

const instance = (clientId: string): Identity => ({ kind: 'module', clientId, module: clientId.split('.')[0] as string, instance: 0, calls: '*' })
const caller = instance('caller.0')
const echo = instance('echo.0')
const json = (text: string): Buffer => Buffer.from(text)

test('a JSON id is its number: 1.0, 1e0 and 1 are one id, "1" another; a reply matches whichever spelling each side wrote', () => {
  const r = createRpcRouter({ moduleStatus: () => 'running', send: () => {}, now: () => 1_000 })
  r.online('echo.0', 'echo')
  assert.equal(r.recipient('rpc/echo/ping', json('{"id":1.0,"reply":"reply/caller.0"}'), caller), 'echo.0')
  assert.equal(r.replied(echo, 'reply/caller.0', json('{"id":"1","result":0}')), false, 'text "1" is another id')
  assert.equal(r.replied(echo, 'reply/caller.0', json('{"id":1e0,"result":0}')), true)
  assert.equal(r.recipient('rpc/echo/ping', json('{"id":1,"reply":"reply/caller.0"}'), caller), 'echo.0')
  // the same value again while pending replaces the call: one reply passes, the other goes nowhere
  assert.equal(r.recipient('rpc/echo/ping', json('{"id":0.1e1,"reply":"reply/caller.0"}'), caller), 'echo.0')
  assert.equal(r.replied(echo, 'reply/caller.0', json('{"id":1,"result":0}')), true)
  assert.equal(r.replied(echo, 'reply/caller.0', json('{"id":1,"result":0}')), false)
  r.stop()
})

test('a callee answers a JSON id with its value in its shortest form; past 2^53 − 1 it is no id', () => {
  const sent: string[] = []
  const ctx = { owner: 'echo', methods: new Map([['ping', () => 'pong']]), send: (_topic: string, payload: Buffer) => { sent.push(payload.toString()) }, warn: () => {} }
  serveRequest(ctx, 'ping', json('{"id":1.0,"reply":"reply/caller.0"}'))
  serveRequest(ctx, 'ping', json('{"id":-0,"reply":"reply/caller.0"}'))
  serveRequest(ctx, 'ping', json('{"id":9007199254740993,"reply":"reply/caller.0"}'))
  assert.deepEqual(sent.slice(0, 2), ['{"id":1,"result":"pong"}', '{"id":0,"result":"pong"}'])
  assert.equal(JSON.parse(sent[2] as string).id, 0)
  assert.equal(JSON.parse(sent[2] as string).error.code, 'BAD_REQUEST')
})
