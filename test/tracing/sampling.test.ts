// Query tracking's sampling, its spans topic and its OTLP export (issue 13), on a real gateway with real
// module processes: the root decides, rate 0 sends nothing, a module speaks only for itself, and a
// collector on loopback receives OTLP/HTTP JSON.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import mqtt from 'mqtt'
import { connectMqtt } from '../../core/sdk/mqtt-client.js'
import { encodeCbor } from '../../core/protocol/codec.js'
import { startTestGateway, connectOperator, fixture, poll, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'

interface Summary { trace: string, root: { module: string, method: string }, spans: number }

interface Post { headers: http.IncomingHttpHeaders, url: string | undefined, body: any }

let gw: TestGateway
let op: Operator
let collector: http.Server
const posts: Post[] = []
let answered = 0
const spanTopics: string[] = []

before(async () => {
  // a collector that refuses the first POST (the export must retry it) and takes the rest
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', chunk => chunks.push(chunk as Buffer))
    req.on('end', () => {
      posts.push({ headers: req.headers, url: req.url, body: JSON.parse(Buffer.concat(chunks).toString()) })
      res.writeHead(answered++ === 0 ? 503 : 200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>(resolve => collector.listen(0, '127.0.0.1', resolve))
  const port = (collector.address() as AddressInfo).port
  gw = await startTestGateway({
    tracing: { sampleRate: 0 },
    modules: [
      { name: 'tracing', entry: 'modules/tracing', tracing: { sampleRate: 0 }, config: { otlp: { url: `http://127.0.0.1:${port}/v1/traces`, headers: { 'x-token': 'secret' }, intervalMs: 100 } } },
      { name: 'quiet', entry: fixture('echo') },
      { name: 'loud', entry: fixture('echo'), tracing: { sampleRate: 1 } },
    ],
  })
  op = await connectOperator(gw.url)
  op.client.on('message', topic => { if (topic.startsWith('spans/')) spanTopics.push(topic) })
  await op.client.subscribeAsync('spans/#')
})

after(async () => {
  await op?.end()
  await gw?.stop()
  collector?.close()
})

async function list (module?: string): Promise<Summary[]> {
  const reply = await op.call('tracing', 'list', module === undefined ? {} : { module })
  return reply.result as Summary[]
}

test('issue 13: sampling is decided at the root: a trace started at rate 0 is not sampled downstream either, and rate 0 sends nothing', async () => {
  // quiet (rate 0) starts the trace and calls loud (rate 1): loud follows the root's decision
  const relayed = await op.call('quiet', 'callOther', { module: 'loud', method: 'echo', args: 'via quiet' })
  assert.equal(relayed.result, 'via quiet')
  // then loud starts a trace of its own: sampled
  assert.equal((await op.call('loud', 'echo', 'direct')).result, 'direct')
  const traces = await poll(async () => {
    const all = await list()
    return all.length > 0 ? all : undefined
  })
  // loud's direct call, flushed after the relayed one would have been: it alone is there
  assert.deepEqual(traces.map(t => [t.root.module, t.root.method, t.spans]), [['loud', 'echo', 1]])
  assert.deepEqual(await list('quiet'), [])
  assert.deepEqual([...new Set(spanTopics)], ['spans/loud/0'])
})

test('issue 13: a module sends spans only as itself: its topic names it, another module\'s spans topic closes its connection, and so does an operator\'s', async () => {
  const span = { trace: Buffer.alloc(16, 7), span: Buffer.alloc(8, 7), parent: null, kind: 'rpc-server', name: 'forged', start: BigInt(Date.now()) * 1000n, us: 10, code: null }
  // a process holding the credential of loud.5: what it sends on its own topic is stored as loud.5
  const credential = gw.gateway.credentials.issue('loud', 5, '*')
  const own = await connectMqtt({ url: gw.gateway.broker.moduleUrl, clientId: credential.username, username: credential.username, password: credential.password, keepaliveSeconds: 5 })
  own.send('spans/loud/5', encodeCbor({ spans: [{ ...span, module: 'quiet', instance: 0 }], dropped: 0 }))
  const stored = await poll(async () => {
    const reply = await op.call('tracing', 'show', { trace: '07'.repeat(16) })
    return reply.error === undefined ? reply.result as { spans: Array<{ module: string, instance: number }> } : undefined
  })
  assert.deepEqual(stored.spans.map(s => [s.module, s.instance]), [['loud', 5]], 'module and instance come from the topic, not the payload')

  // the same process on quiet's topic, or on another instance's: refused, connection closed
  const closed = new Promise<string>(resolve => own.events.once('close', resolve))
  own.send('spans/quiet/0', encodeCbor({ spans: [{ ...span, trace: Buffer.alloc(16, 8) }], dropped: 0 }))
  await closed
  await waitFor('the refusal in the core log', () => gw.logs.some(l => /denied publish spans\/quiet\/0/.test(l.text)))
  gw.gateway.credentials.revoke(credential.username)

  // an operator (here an anonymous admin) may not publish spans at all
  const admin = await mqtt.connectAsync(gw.url, { protocolVersion: 4, clientId: `forger-${process.pid}`, reconnectPeriod: 0 })
  const adminClosed = new Promise<void>(resolve => admin.once('close', () => resolve()))
  admin.publish('spans/quiet/0', encodeCbor({ spans: [{ ...span, trace: Buffer.alloc(16, 9) }], dropped: 0 }))
  await adminClosed
  admin.end(true)
  for (const forged of ['08', '09']) {
    assert.equal((await op.call('tracing', 'show', { trace: forged.repeat(16) })).error?.code, 'NOT_FOUND')
  }
})

test('issue 13: OTLP/HTTP JSON export: spans reach a collector as an ExportTraceServiceRequest, a refused POST is retried and counted', async () => {
  assert.equal((await op.call('loud', 'whoami')).error, undefined)
  const delivered = await waitFor('a POST the collector took with loud\'s whoami span', () => posts.slice(1).find(p => JSON.stringify(p.body).includes('"whoami"')))
  assert.equal(delivered.url, '/v1/traces')
  assert.equal(delivered.headers['content-type'], 'application/json')
  assert.equal(delivered.headers['x-token'], 'secret')
  const spans: any[] = []
  for (const resourceSpans of delivered.body.resourceSpans) {
    const attributes = Object.fromEntries(resourceSpans.resource.attributes.map((a: any) => [a.key, a.value.stringValue]))
    assert.equal(attributes['service.name'], 'loud')
    assert.equal(attributes['service.instance.id'], 'loud.0')
    for (const scope of resourceSpans.scopeSpans) {
      assert.equal(scope.scope.name, 'outpost')
      spans.push(...scope.spans)
    }
  }
  const whoami = spans.find(s => s.name === 'whoami')
  assert.ok(whoami !== undefined)
  assert.match(whoami.traceId, /^[0-9a-f]{32}$/)
  assert.match(whoami.spanId, /^[0-9a-f]{16}$/)
  assert.equal(whoami.parentSpanId, undefined, 'a root span has no parent')
  assert.equal(whoami.kind, 2) // SPAN_KIND_SERVER
  assert.match(whoami.startTimeUnixNano, /^\d{19}$/)
  assert.ok(BigInt(whoami.endTimeUnixNano) >= BigInt(whoami.startTimeUnixNano))
  assert.ok(Math.abs(Number(BigInt(whoami.startTimeUnixNano) / 1_000_000n) - Date.now()) < 600_000)
  assert.deepEqual(whoami.status, { code: 1 }) // STATUS_CODE_OK
  assert.ok(whoami.attributes.some((a: any) => a.key === 'outpost.kind' && a.value.stringValue === 'rpc-server'))

  // the first POST was refused (503): its spans came again in a later one
  const first = posts[0]?.body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans.map((x: any) => x.spanId))) as string[]
  const later = new Set(posts.slice(1).flatMap(p => p.body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans.map((x: any) => x.spanId)))))
  assert.ok(first.length > 0 && first.every(id => later.has(id)), 'the refused spans were sent again')
  const stats = (await op.call('tracing', 'stats')).result as { otlp: { failedPosts: number, exported: number, queued: number, lastError: string } }
  assert.equal(stats.otlp.failedPosts, 1)
  assert.match(stats.otlp.lastError, /503/)
  assert.ok(stats.otlp.exported >= first.length + 1)
})
