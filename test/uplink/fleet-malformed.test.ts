// Review 3a, finding 3: values off the wire at the edges of their type (NaN, ±Infinity, 1e300, negative, a
// string where a number goes, a long string) in a gateway's retained status and in its answers, through a real
// Mosquitto to the real CLI. Nothing is thrown as a stack trace: an offline gateway is said in one sentence
// (exit 3), `fleet ls` lists every gateway and notes the malformed statuses (exit 0), the tables show "?" for
// a value they cannot show, and an answer of another shape is one sentence (BAD_REPLY, exit 1).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'
import { cli } from '../management/helpers.js'
import type { CliResult } from '../management/helpers.js'

const USERS = { evil: 'evil-secret-1', ops: 'ops-secret-1' }
/** what a crash looks like: an exception's name or a stack frame */
const CRASH = /RangeError|TypeError|\n\s+at /
let upstream: Upstream
let evil: MqttClient

function fleetCli (args: string[]): Promise<CliResult> {
  return cli([...args, '--via', upstream.url, '--ca', upstream.ca, '-u', 'ops'], { OUTPOST_PASS: USERS.ops, NO_COLOR: '1' })
}

/** offline gateways under the root "edge", each with one `ts` at an edge */
const EDGES: Record<string, unknown> = {
  huge: 1e300, nan: NaN, inf: Infinity, neginf: -Infinity, neghuge: -1e300, text: 'yesterday', long: 'x'.repeat(3000), fraction: 0.5,
}

const odd = {
  'core.list': [{ module: 'm', state: 'running', instances: [{ state: 'running', pid: 1 }], budgetMiB: 'lots', memoryBytes: 1e300, cpuMs: NaN, uptimeMs: -Infinity, restarts: -1, failure: null, lastExit: { at: Infinity, code: 1, signal: null, reason: 'exit-code' } }],
  'core.info': { gateway: 'gw-odd', board: { name: 'sim' }, uptimeMs: NaN, memory: { totalBytes: 'x', availableBytes: -1e300 }, load: ['high', NaN, Infinity] },
  'core.logs': { lines: [{ seq: 1, ts: 1e300, source: 'm', level: 'info', text: 'a' }, { seq: 2, ts: NaN, source: 'm', level: 'info', text: 'b' }, { seq: 3, ts: 'noon', source: 'm', level: 'info', text: 'c' }], next: 3 },
  'tracing.list': [{ trace: 't1', start: 1e300, durationMs: 'slow', spans: 1, root: { module: 'm', method: 'x' }, error: null }],
  'core.status': { module: 'm' }, // no instances, no state: not a module's status
}

before(async () => {
  upstream = await startUpstream(USERS, { acl: 'pattern readwrite #\n' })
  evil = await upstream.client('evil')
  for (const [name, ts] of Object.entries(EDGES)) {
    await evil.publishAsync(`edge/gw-${name}/status`, encodeCbor({ state: 'offline', ts }), { qos: 1, retain: true })
    await evil.publishAsync(`outpost/gw-${name}/status`, encodeCbor({ state: 'offline', ts }), { qos: 1, retain: true })
  }
  await evil.publishAsync('edge/gw-parts/status', encodeCbor({ state: 'online', version: 'v'.repeat(100), ts: Date.now(), since: 'then', modules: { total: -1, running: 1 }, queue: { records: 1, bytes: NaN, dropped: {} } }), { qos: 1, retain: true })
  await evil.publishAsync('edge/gw-state/status', encodeCbor({ state: 's'.repeat(1000) }), { qos: 1, retain: true })
  // a gateway online, answering with the values above
  await evil.publishAsync('outpost/gw-odd/status', encodeCbor({ state: 'online', ts: Date.now() }), { qos: 1, retain: true })
  await evil.subscribeAsync('outpost/gw-odd/rpc/#', { qos: 1 })
  evil.on('message', (topic, payload) => {
    if (!topic.startsWith('outpost/gw-odd/rpc/')) return
    const [module, method] = topic.split('/').slice(3)
    const request = decodeCbor(payload) as { id: number, reply: string }
    const result = odd[`${module}.${method}` as keyof typeof odd]
    void evil.publishAsync(request.reply, encodeCbor({ id: request.id, ...(result === undefined ? { error: { code: 'NOT_FOUND', message: 'no' } } : { result }) }), { qos: 0 })
  })
})

after(async () => {
  await evil?.endAsync()
  await upstream?.close()
})

test('an offline gateway whose status holds a time at any edge: one sentence, exit 3', async () => {
  for (const name of Object.keys(EDGES)) {
    const r = await fleetCli(['ls', '-g', `gw-${name}`])
    assert.equal(r.code, 3, `${name}: ${r.stderr}`)
    assert.doesNotMatch(r.stderr, CRASH, name)
    assert.match(r.stderr, new RegExp(`^outpost: gateway gw-${name} is offline \\(its uplink is not connected to \\S+; its status is malformed: ts\\)\\n$`), name)
  }
})

test('fleet ls lists every gateway, its malformed statuses noted, exit 0', async () => {
  const r = await fleetCli(['fleet', 'ls', '--topic-root', 'edge'])
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stdout + r.stderr, CRASH)
  const lines = r.stdout.trimEnd().split('\n')
  assert.match(lines[0] ?? '', /\s+DROPPED\s+NOTE$/)
  for (const name of Object.keys(EDGES)) assert.match(r.stdout, new RegExp(`\\ngw-${name}\\s+offline\\s+-\\s+-\\s+-\\s+-\\s+-\\s+-\\s+malformed status: ts\\n`), name)
  assert.match(r.stdout, /\ngw-parts\s+online\s+-\s+-\s+\d+s ago\s+-\s+-\s+-\s+malformed status: version, since, modules, queue\n/)
  assert.match(r.stdout, /\ngw-state\s+unreadable\s.*malformed status: state\n/)
  const json = await fleetCli(['fleet', 'ls', '--topic-root', 'edge', '--json'])
  assert.equal(json.code, 0, json.stderr)
  const huge = (JSON.parse(json.stdout) as Array<{ gateway: string, ts?: number, malformed?: string[] }>).find(g => g.gateway === 'gw-huge')
  assert.deepEqual(huge, { gateway: 'gw-huge', state: 'offline', malformed: ['ts'] })
})

test('answers with numbers at the edges: shown as "?", never thrown; an answer of another shape: BAD_REPLY, exit 1', async () => {
  for (const args of [['ls'], ['top'], ['logs', 'm'], ['trace', 'ls']]) {
    const r = await fleetCli([...args, '-g', 'gw-odd'])
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    assert.doesNotMatch(r.stdout + r.stderr, CRASH, args.join(' '))
    assert.match(r.stdout, /\?/, args.join(' '))
  }
  const logs = await fleetCli(['logs', 'm', '-g', 'gw-odd'])
  assert.deepEqual(logs.stdout.split('\n').slice(0, 3).map(l => l.split(' ')[0]), ['??:??:??.???', '??:??:??.???', '??:??:??.???'])
  const status = await fleetCli(['status', 'm', '-g', 'gw-odd'])
  assert.equal(status.code, 1, status.stderr)
  assert.match(status.stderr, /^outpost: the gateway's answer cannot be shown: it is not of the shape this command reads \([^\n]*\)\n$/)
})
