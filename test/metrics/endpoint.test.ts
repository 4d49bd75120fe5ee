// Issue 13, metrics: a real gateway with the demo modules and the metrics module, scraped over real HTTP,
// the output read by the Prometheus client's own parsers (Debian python3-prometheus-client: the 0.0.4 text
// parser and the OpenMetrics parser), and the endpoint's limits, each at its limit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { freePort } from '../../bench/lib/stacks.js'
import { canPublish } from '../../core/broker/access.js'
import type { Identity } from '../../core/broker/access.js'
import { connectOperator, fixture, startTestGateway, waitFor, poll } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'

const MiB = 1024 * 1024

// prints every sample as JSON: [{ family, type, name, labels, value }]
const PARSE = `
import sys, json
if sys.argv[1] == 'openmetrics':
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
else:
    from prometheus_client.parser import text_string_to_metric_families as parse
print(json.dumps([{'family': f.name, 'type': f.type, 'name': s.name, 'labels': s.labels, 'value': s.value}
                  for f in parse(sys.stdin.read()) for s in f.samples]))
`

interface ParsedSample { family: string, type: string, name: string, labels: Record<string, string>, value: number }

function parse (text: string, format: 'prometheus' | 'openmetrics'): ParsedSample[] {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PARSE, format], { input: text, encoding: 'utf8' })) as ParsedSample[]
}

/** the one sample of that name whose labels include these */
function value (samples: ParsedSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`)
  return found[0]?.value
}

interface Response { status: number, headers: http.IncomingHttpHeaders, body: string }

function get (port: number, path = '/metrics', headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** raw bytes over TCP: everything the server sends until it closes the connection */
function raw (port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let got = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { got += chunk })
    socket.on('close', () => resolve(got))
    // a connection closed at once, with our bytes unread, is reset: what was received is the answer
    socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET') reject(err) })
  })
}

const DEMO = [
  { name: 'room', entry: 'modules/sim-room', config: { heaterLine: 'GPIO17', start: 18 } },
  { name: 'temperature', entry: 'drivers/ds18b20', after: ['room'], config: { bus: 'w1', intervalMs: 250, names: { '28-00000a1b2c3d': 'living-room' } } },
  { name: 'heater', entry: 'drivers/gpio-output', config: { line: 'GPIO17', safeState: 0 } },
  { name: 'thermostat', entry: 'modules/thermostat', after: ['temperature', 'heater'], config: { sensor: 'temperature', relay: 'heater', setpoint: 21, hysteresis: 0.3 } },
]

async function gatewayWithMetrics (metrics: Record<string, unknown>, modules: unknown[] = []): Promise<{ tg: TestGateway, port: number }> {
  const port = await freePort()
  const tg = await startTestGateway({ defaults: { memoryMiB: 48 }, modules, metrics: { port, ...metrics } })
  // the module listens before it says ready: once running, it serves
  await waitFor('the metrics module running', () => tg.gateway.modules.get('metrics')?.instances[0]?.state.status === 'running')
  return { tg, port }
}

async function restartCount (op: Operator, module: string): Promise<number> {
  const { result } = await op.call('core', 'status', { module }) as { result: { restarts: number, state: string } }
  return result.state === 'running' ? result.restarts : -1
}

test('issue 13: a scrape of a gateway running the demo modules, read by both Prometheus parsers, says what happened', async (t) => {
  const { tg, port } = await gatewayWithMetrics({ cacheMs: 100 }, [
    ...DEMO,
    { name: 'echo', entry: fixture('echo'), memoryMiB: 40, restart: { backoff: { initialMs: 20, maxMs: 100 } } },
  ])
  t.after(() => tg.stop())
  const op = await connectOperator(tg.url)
  t.after(() => op.end())
  await waitFor('echo running', () => tg.gateway.modules.get('echo')?.instances[0]?.state.status === 'running')

  // echo crashes twice, each time restarted by the supervisor with reason exit-code
  const replies: Array<{ result?: unknown, error?: { code: string } }> = []
  for (const n of [1, 2]) {
    replies.push(await op.call('echo', 'crash'))
    await poll(async () => ((await restartCount(op, 'echo')) === n ? true : undefined))
  }
  replies.push(await op.call('echo', 'nope'))
  replies.push(await op.call('echo', 'echo', { hello: 1 }))
  const unknown = await op.call('nosuch', 'anything')
  assert.equal(unknown.error?.code, 'NO_SUCH_MODULE')
  assert.equal(replies[2]?.error?.code, 'NO_SUCH_METHOD')
  // a crash's reply may lose the race with the crash: then the router answered UNAVAILABLE for it
  const answeredByEcho = replies.filter(r => r.error?.code !== 'UNAVAILABLE').length
  const unavailable = replies.length - answeredByEcho
  // hooks have flowed: the thermostat has heard the sensor
  await poll(async () => {
    const scrape = parse((await get(port)).body, 'prometheus')
    return (value(scrape, 'outpost_module_hooks_received_total', { module: 'thermostat', instance: '0' }) ?? 0) > 0 ? true : undefined
  })

  await new Promise(resolve => setTimeout(resolve, 150)) // past the cache period: the calls above are in the next snapshot
  const prometheus = await get(port)
  assert.equal(prometheus.status, 200)
  assert.equal(prometheus.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  const open = await get(port, '/metrics', { Accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' })
  assert.equal(open.status, 200)
  assert.equal(open.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  assert.ok(open.body.endsWith('# EOF\n'), 'OpenMetrics ends with # EOF')
  assert.ok(!prometheus.body.includes('# EOF'))

  for (const [format, body] of [['prometheus', prometheus.body], ['openmetrics', open.body]] as const) {
    const samples = parse(body, format)
    const echo = { module: 'echo', instance: '0' }
    assert.equal(value(samples, 'outpost_module_restarts_total', echo), 2, format)
    assert.equal(value(samples, 'outpost_module_exits_total', { ...echo, reason: 'exit-code' }), 2, format)
    assert.equal(value(samples, 'outpost_module_state', { ...echo, state: 'running' }), 1, format)
    assert.equal(value(samples, 'outpost_module_state', { ...echo, state: 'failed' }), 0, format)
    assert.equal(value(samples, 'outpost_rpc_calls_total', { module: 'echo' }), 4, format)
    assert.equal(value(samples, 'outpost_rpc_errors_total', { module: 'echo', code: 'NO_SUCH_METHOD' }), 1, format)
    assert.equal(value(samples, 'outpost_rpc_errors_total', { module: 'echo', code: 'UNAVAILABLE' }), unavailable === 0 ? undefined : unavailable, format)
    assert.equal(value(samples, 'outpost_rpc_unknown_module_calls_total'), 1, format)
    assert.equal(value(samples, 'outpost_rpc_duration_seconds_count', { module: 'echo' }), answeredByEcho, format)
    assert.equal(value(samples, 'outpost_rpc_duration_seconds_bucket', { module: 'echo', le: '+Inf' }), answeredByEcho, format)
    assert.ok((value(samples, 'outpost_rpc_duration_seconds_sum', { module: 'echo' }) ?? 0) > 0, format)
    assert.ok((value(samples, 'outpost_module_memory_bytes', { module: 'thermostat', instance: '0' }) ?? 0) > 0, format)
    assert.equal(value(samples, 'outpost_module_memory_budget_bytes', { module: 'echo' }), 40 * MiB, format)
    assert.equal(value(samples, 'outpost_module_memory_budget_bytes', { module: 'thermostat' }), 48 * MiB, format)
    assert.ok((value(samples, 'outpost_module_cpu_seconds_total', { module: 'thermostat', instance: '0' }) ?? 0) > 0, format)
    assert.ok((value(samples, 'outpost_module_hooks_emitted_total', { module: 'temperature', instance: '0' }) ?? 0) > 0, format)
    assert.ok((value(samples, 'outpost_module_hooks_received_total', { module: 'thermostat', instance: '0' }) ?? 0) > 0, format)
    assert.ok((value(samples, 'outpost_broker_received_bytes_total', { for: 'modules' }) ?? 0) > 0, format)
    assert.equal(value(samples, 'outpost_broker_clients', { listener: tg.url }), 1, format) // the operator above
    assert.equal(value(samples, 'outpost_broker_clients_limit', { listener: tg.url }), 32, format)
    assert.equal(value(samples, 'outpost_retained_topics_limit'), 64, format)
    assert.equal(value(samples, 'outpost_rpc_pending_calls_limit'), 4096, format)
    assert.equal(value(samples, 'outpost_rpc_pending_calls_per_caller_limit'), 256, format)
    assert.equal(value(samples, 'outpost_rpc_pending_calls_per_identity_limit'), 1024, format)
    // every family is documented by HELP and TYPE, and every name has the prefix
    assert.ok(samples.every(s => s.name.startsWith('outpost_') && s.type !== 'unknown'), format)
  }
})

test('issue 13: a scrape storm costs the core one snapshot per cache period', async (t) => {
  const { tg, port } = await gatewayWithMetrics({ cacheMs: 60_000 })
  t.after(() => tg.stop())
  let requests = 0
  await tg.gateway.bus.subscribe('rpc/core/metrics', () => { requests++ })
  const scrapes = await Promise.all(Array.from({ length: 12 }, () => get(port)))
  assert.deepEqual(scrapes.map(s => s.status), new Array(12).fill(200))
  assert.equal(new Set(scrapes.map(s => s.body)).size, 1, 'one snapshot for all')
  assert.equal(requests, 1)
})

test('issue 13: the endpoint serves GET /metrics only', async (t) => {
  const { tg, port } = await gatewayWithMetrics({})
  t.after(() => tg.stop())
  assert.equal((await get(port, '/')).status, 404)
  assert.equal((await get(port, '/metrics/x')).status, 404)
  const post = await get(port, '/metrics', {}, 'POST')
  assert.equal(post.status, 405)
  assert.equal(post.headers.allow, 'GET, HEAD')
  const head = await get(port, '/metrics', {}, 'HEAD')
  assert.equal(head.status, 200)
  assert.equal(head.body, '')
  // a body is refused unread
  assert.match(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'), /^HTTP\/1\.1 413 /)
  assert.equal((await get(port, '/metrics?x=1')).status, 200)
})

test('issue 13: the endpoint\'s limits, each at its limit: head size, connections, head time, keep-alive', async (t) => {
  const { tg, port } = await gatewayWithMetrics({ limits: { maxHeaderBytes: 2048, maxConnections: 2, headersTimeoutMs: 300, keepAliveTimeoutMs: 300 } })
  t.after(() => tg.stop())

  // maxHeaderBytes: a head within it is served, one past it gets 431
  const line = 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
  const padded = (total: number): string => `${line}X-Pad: ${'a'.repeat(total - line.length - 'X-Pad: '.length - 4)}\r\n\r\n`
  assert.match(await raw(port, padded(1900)), /^HTTP\/1\.1 200 /)
  assert.match(await raw(port, padded(3000)), /^HTTP\/1\.1 431 /)

  // headersTimeoutMs: a head that never ends gets 408 and the connection is closed
  assert.match(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n'), /^HTTP\/1\.1 408 /)

  // keepAliveTimeoutMs: an idle kept-alive connection is closed by the server after a scrape
  const kept = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
  assert.match(kept, /^HTTP\/1\.1 200 /)

  // maxConnections: two held open, a third is closed at once without an answer
  const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })))
  t.after(() => { for (const s of held) s.destroy() })
  assert.equal(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), '')
  // one closed, and the next is served
  const first = held[0] as net.Socket
  await new Promise<void>(resolve => { first.once('close', () => resolve()); first.destroy() })
  await poll(async () => {
    const answer = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    return answer.startsWith('HTTP/1.1 200 ') ? true : undefined
  })
})

test('issue 13: the metrics module may call only core\'s read-only methods; a viewer may read metrics', () => {
  const metrics: Identity = { kind: 'module', clientId: 'metrics.0', module: 'metrics', instance: 0, calls: new Set(['core']) }
  assert.equal(canPublish(metrics, 'rpc/core/metrics'), true)
  assert.equal(canPublish(metrics, 'rpc/core/list'), true)
  for (const change of ['stop', 'restart', 'configure', 'add', 'remove']) assert.equal(canPublish(metrics, `rpc/core/${change}`), false, change)
  // another module with core in its calls keeps every method
  assert.equal(canPublish({ ...metrics, clientId: 'ops.0', module: 'ops' }, 'rpc/core/stop'), true)
  assert.equal(canPublish({ kind: 'operator', clientId: 'noc-1', user: 'noc', role: 'viewer' }, 'rpc/core/metrics'), true)
})
