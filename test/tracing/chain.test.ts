// Query tracking end to end (issue 13): a real gateway, real module processes (the shipped thermostat and
// tracing modules among them), the real `outpost trace` CLI. A request's trace follows it from module to
// module and into the hooks it causes; the tracing module shows the call tree.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import mqtt from 'mqtt'
import { decodeCbor } from '../../core/protocol/codec.js'
import { startTestGateway, connectOperator, fixture, poll } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { cli } from '../management/helpers.js'

interface Span { span: string, parent: string | null, module: string, instance: number, kind: string, name: string, start: number, durationMs: number, outcome: string, code: string | null }
interface Summary { trace: string, root: { module: string, method: string }, start: number, durationMs: number, spans: number, error: string | null }

let gw: TestGateway
let op: Operator
const readings: Array<Record<string, unknown>> = []

before(async () => {
  gw = await startTestGateway({
    tracing: { sampleRate: 1 },
    modules: [
      { name: 'tracing', entry: 'modules/tracing' },
      { name: 'sensor', entry: fixture('trace-chain'), config: { role: 'sensor' } },
      { name: 'relay', entry: fixture('trace-chain'), calls: ['core'], config: { role: 'relay' } },
      { name: 'thermostat', entry: 'modules/thermostat', config: { sensor: 'sensor', relay: 'relay', setpoint: 21 } },
    ],
  })
  op = await connectOperator(gw.url)
  op.client.on('message', (topic, payload) => { if (topic === 'hooks/sensor/reading') readings.push(decodeCbor(payload) as Record<string, unknown>) })
  await op.client.subscribeAsync('hooks/sensor/reading')
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

async function call<T> (module: string, method: string, args: unknown = null): Promise<T> {
  const reply = await op.call(module, method, args)
  if (reply.error !== undefined) throw new Error(`${module}.${method}: ${reply.error.code} ${reply.error.message}`)
  return reply.result as T
}

/** the traces whose root is `module.method`, once `count` of them hold `spans` spans each */
async function traces (module: string, method: string, count: number, spans = 1): Promise<Summary[]> {
  return poll(async () => {
    const list = (await call<Summary[]>('tracing', 'list', { module })).filter(t => t.root.module === module && t.root.method === method)
    return list.length >= count && list.every(t => t.spans >= spans) ? list : undefined
  })
}

/** a JSON request from a separate client (mosquitto_pub's way); resolves with the JSON reply */
async function jsonRequest (topic: string, body: string): Promise<any> {
  const clientId = `json-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const client = await mqtt.connectAsync(gw.url, { protocolVersion: 4, clientId, reconnectPeriod: 0 })
  try {
    await client.subscribeAsync(`reply/${clientId}`)
    const reply = new Promise<any>(resolve => client.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))))
    await client.publishAsync(topic, body.replace('REPLY', `reply/${clientId}`))
    return await reply
  } finally {
    await client.endAsync()
  }
}

test('issue 13: a request followed sensor → thermostat → relay → core is one trace with the right tree, in the store and in `outpost trace show`', async () => {
  assert.equal(await call('sensor', 'read', { celsius: 15 }), 15)
  // sensor: request and hook; thermostat: hook handled, relay called, decision emitted; relay: request, core called, hook
  const [summary] = await traces('sensor', 'read', 1, 8)
  assert.ok(summary !== undefined)
  assert.match(summary.trace, /^[0-9a-f]{32}$/)
  assert.equal(summary.spans, 8)
  assert.equal(summary.error, null)
  const { spans } = await call<{ trace: string, spans: Span[] }>('tracing', 'show', { trace: summary.trace })
  const find = (module: string, kind: string, name: string): Span => {
    const found = spans.find(s => s.module === module && s.kind === kind && s.name === name)
    assert.ok(found !== undefined, `a ${kind} span ${name} of ${module} in ${JSON.stringify(spans)}`)
    return found
  }
  const root = find('sensor', 'rpc-server', 'read')
  const reading = find('sensor', 'hook-emit', 'reading')
  const handled = find('thermostat', 'hook-handle', 'sensor/reading')
  const set = find('thermostat', 'rpc-client', 'relay.set')
  const served = find('relay', 'rpc-server', 'set')
  const info = find('relay', 'rpc-client', 'core.info')
  const switched = find('relay', 'hook-emit', 'switched')
  const decision = find('thermostat', 'hook-emit', 'decision')
  assert.equal(root.parent, null)
  assert.equal(reading.parent, root.span)
  assert.equal(handled.parent, reading.span)
  assert.equal(set.parent, handled.span)
  assert.equal(served.parent, set.span)
  assert.equal(info.parent, served.span)
  assert.equal(switched.parent, served.span)
  assert.equal(decision.parent, handled.span, 'a hook emitted in the .then of a call made by a hook handler stays in its trace')
  for (const span of spans) {
    assert.equal(span.outcome, 'ok')
    assert.equal(span.code, null)
    assert.equal(span.instance, 0)
    assert.ok(span.durationMs >= 0 && span.start > 0)
  }
  // a span made inside another of the same process starts within it (one monotonic clock for starts and
  // durations: Date.now() lagged performance.now() by several ms here, and children started after their parent ended)
  for (const [parent, child] of [[root, reading], [handled, set], [served, info], [served, switched]] as const) {
    assert.ok(child.start >= parent.start && child.start <= parent.start + parent.durationMs + 0.002, `${child.kind} ${child.name} at ${child.start} within ${parent.kind} ${parent.name} at ${parent.start} for ${parent.durationMs} ms`)
  }
  // the caller's span lasts the whole call it made
  assert.ok(set.durationMs >= served.durationMs, `${set.durationMs} ≥ ${served.durationMs}`)

  // the hook emitted while handling the request carries the trace: byte strings of 16 and 8 bytes, flags 1
  const hook = readings.at(-1)
  assert.ok(hook !== undefined)
  assert.ok(hook.trace instanceof Uint8Array && hook.parent instanceof Uint8Array)
  assert.equal(Buffer.from(hook.trace).toString('hex'), summary.trace)
  assert.equal(Buffer.from(hook.parent).toString('hex'), reading.span)
  assert.equal(hook.flags, 1)

  const shown = await cli(['trace', 'show', summary.trace], { OUTPOST_URL: gw.url })
  assert.equal(shown.code, 0, shown.stderr)
  const labels = shown.stdout.split('\n').slice(2).filter(l => l !== '').map(l => l.replace(/\s+[\d.]+ ms at \+[\d.]+ ms\s*$/, ''))
  assert.deepEqual(labels, [
    'sensor.0 rpc-server read',
    '└─ sensor.0 hook-emit reading',
    '   └─ thermostat.0 hook-handle sensor/reading',
    '      ├─ thermostat.0 rpc-client relay.set',
    '      │  └─ relay.0 rpc-server set',
    '      │     ├─ relay.0 rpc-client core.info',
    '      │     └─ relay.0 hook-emit switched',
    '      └─ thermostat.0 hook-emit decision',
  ], shown.stdout)
  const listed = await cli(['trace', 'ls', '--module', 'relay'], { OUTPOST_URL: gw.url })
  assert.equal(listed.code, 0, listed.stderr)
  assert.match(listed.stdout, new RegExp(`^${summary.trace}\\s+[\\d:.]+\\s+[\\d.]+ ms\\s+8\\s+sensor\\.read\\s*$`, 'm'))
  const missing = await cli(['trace', 'show', '0'.repeat(31) + '1'], { OUTPOST_URL: gw.url })
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /NOT_FOUND|no trace 0{31}1/)
})

test('issue 13: a failed call is an error span, and `trace ls --errors` shows only traces with one', async () => {
  const failed = await op.call('relay', 'fail')
  assert.equal(failed.error?.code, 'BAD_ARGUMENTS')
  const [summary] = await traces('relay', 'fail', 1)
  assert.equal(summary?.error, 'BAD_ARGUMENTS')
  const errors = await call<Summary[]>('tracing', 'list', { errorsOnly: true })
  assert.ok(errors.length >= 1 && errors.every(t => t.error !== null))
  const listed = await cli(['trace', 'ls', '--errors'], { OUTPOST_URL: gw.url })
  assert.equal(listed.code, 0, listed.stderr)
  assert.match(listed.stdout, /relay\.fail\s+BAD_ARGUMENTS/)
  assert.doesNotMatch(listed.stdout, /sensor\.read/)
})

test('issue 13: malformed trace context is ignored (a new trace is started), never fatal; valid context in JSON is hex text', async () => {
  const before = (await call<Summary[]>('tracing', 'list', { module: 'relay', limit: 500 })).filter(t => t.root.method === 'fail').length
  const bad = [
    { trace: Buffer.alloc(15, 1), parent: Buffer.alloc(8, 1), flags: 1 }, // a trace id one byte short
    { trace: Buffer.alloc(16, 0), parent: Buffer.alloc(8, 1), flags: 1 }, // all zero [W3C Trace Context § 3.2.2.3]
    { trace: Buffer.alloc(16, 1), parent: 'not bytes', flags: 1 },
    { trace: Buffer.alloc(16, 1), parent: Buffer.alloc(8, 1), flags: 1.5 },
    { trace: Buffer.alloc(16, 1), parent: Buffer.alloc(8, 1), flags: 256 },
    { trace: 'ab'.repeat(16), parent: Buffer.alloc(8, 1), flags: 1 }, // hex text is JSON's form, not CBOR's
  ]
  for (const [i, context] of bad.entries()) {
    const reply = await op.rawRequest('rpc/relay/fail', { id: `bad-${i}`, reply: `reply/${op.clientId}`, ...context })
    assert.equal(reply.error?.code, 'BAD_ARGUMENTS', `context ${i}: answered as without one`)
  }
  const jsonBad = await jsonRequest('rpc/relay/fail', '{"id":"jb","reply":"REPLY","trace":"4BF92F3577B34DA6A3CE929D0E0E4736","parent":"00f067aa0ba902b7","flags":1}')
  assert.equal(jsonBad.error?.code, 'BAD_ARGUMENTS')
  const after = await traces('relay', 'fail', before + bad.length + 1)
  // each started a trace of its own, and none kept the invalid id
  assert.equal(after.length, before + bad.length + 1)
  assert.ok(after.every(t => t.trace !== '01'.repeat(16) && t.trace !== '4bf92f3577b34da6a3ce929d0e0e4736'))

  // a valid traceparent from a JSON caller: the callee's span joins that trace under that parent
  const json = await jsonRequest('rpc/relay/fail', '{"id":"jv","reply":"REPLY","trace":"4bf92f3577b34da6a3ce929d0e0e4736","parent":"00f067aa0ba902b7","flags":1}')
  assert.equal(json.error?.code, 'BAD_ARGUMENTS')
  const shown = await poll(async () => {
    const reply = await op.call('tracing', 'show', { trace: '4bf92f3577b34da6a3ce929d0e0e4736' })
    return reply.error === undefined ? reply.result as { spans: Span[] } : undefined
  })
  assert.deepEqual(shown.spans.map(s => [s.module, s.kind, s.name, s.parent, s.code]), [['relay', 'rpc-server', 'fail', '00f067aa0ba902b7', 'BAD_ARGUMENTS']])
  // and the module is still there
  assert.equal((await op.call('relay', 'fail')).error?.code, 'BAD_ARGUMENTS')
})

test('issue 13: the tracing module\'s arguments are checked', async () => {
  assert.equal((await op.call('tracing', 'show', { trace: 'xyz' })).error?.code, 'BAD_ARGUMENTS')
  assert.equal((await op.call('tracing', 'list', { limit: -1 })).error?.code, 'BAD_ARGUMENTS')
  assert.equal((await op.call('tracing', 'list', { errorsOnly: 'yes' })).error?.code, 'BAD_ARGUMENTS')
  const stats = await call<{ received: { spans: number, malformedBatches: number }, store: { traces: number, spans: number }, limits: { maxSpans: number } }>('tracing', 'stats')
  assert.ok(stats.received.spans >= 8)
  assert.equal(stats.limits.maxSpans, 10_000)
  assert.equal(stats.store.spans, stats.received.spans)
})
