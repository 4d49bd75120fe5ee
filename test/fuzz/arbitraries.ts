// fast-check generators for hostile input: MQTT 3.1.1 packets (valid ones made with mqtt-packet, then
// structurally mutated), request envelopes in CBOR and JSON with every field wrong in turn, deep nesting,
// and topics the broker must refuse or fence off. Shared by the fuzz tests and their raw-module fixture.
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { encodeCbor } from '../../core/protocol/codec.js'

/** every method of the management API (docs/management.md) */
export const CORE_METHODS = ['list', 'status', 'info', 'logs', 'start', 'stop', 'restart', 'reset', 'add', 'remove', 'configure']
/** the ones that change nothing: an admin fuzzes only these, so that the gateway under test stays the same */
export const READ_METHODS = ['list', 'status', 'info', 'logs']

/** a nesting of arrays or maps `depth` deep, as JSON text or CBOR bytes (both decoders once overflowed their stack on it) */
export function deepJson (depth: number, map: boolean): string {
  return map ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`
}

export function deepCbor (depth: number, map: boolean): Buffer {
  // 0x81: array of one; 0xa1 0x61 0x61: map of one with key "a"; then the innermost 0x01
  const head = map ? Buffer.from([0xa1, 0x61, 0x61]) : Buffer.from([0x81])
  return Buffer.concat([...Array.from({ length: depth }, () => head), Buffer.from([0x01])])
}

const smallText = fc.string({ maxLength: 24 })
const name = fc.constantFrom('target', 'core', 'evil', 'nosuch', 'thermostat', '')

/** topics a client may or may not use: the fenced-off families, wildcards, and plain garbage */
export const topic: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(name, fc.constantFrom(...CORE_METHODS, 'echo', 'fuzz', 'x')).map(([m, method]) => `rpc/${m}/${method}`),
  fc.tuple(name, smallText).map(([m, h]) => `hooks/${m}/${h}`),
  fc.constantFrom('reply/admin', 'reply/target.0', 'reply/#', 'reply/+', 'presence/target/0', 'state/target', '$SYS/x', '#', '+/+', 'rpc/+/+'),
  fc.nat({ max: 300 }).map(levels => Array.from({ length: levels }, () => 'l').join('/')),
  fc.string({ maxLength: 64, unit: 'binary' }),
)

/** request ids of every CBOR and JSON type, the valid ones among them */
const id = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.bigInt({ min: 0n, max: 2n ** 64n + 5n }), fc.string({ maxLength: 200 }), fc.constant(null), fc.boolean(), fc.array(fc.nat(), { maxLength: 3 }))

/** JSON-like argument values, nested a little */
const args: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>(tie => ({
  value: fc.oneof({ depthSize: 'small' },
    fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
  ),
})).value

export interface EnvelopeCase { fields: Record<string, unknown>, json: boolean }

/** a request envelope whose fields are each sometimes right, sometimes wrong, sometimes missing */
export function envelope (replyTopic: string): fc.Arbitrary<EnvelopeCase> {
  return fc.record({
    fields: fc.record({
      id,
      reply: fc.oneof(fc.constant(replyTopic), fc.constant('reply/someone-else'), smallText, fc.constant('reply/' + 'x'.repeat(70_000)), fc.nat()),
      timeout: fc.oneof(fc.nat({ max: 10_000 }), fc.constant(2 ** 32), fc.constant(-1), fc.double(), smallText),
      from: fc.oneof(smallText, fc.constant('admin'), fc.constant('core')),
      args: fc.oneof(args, fc.record({ module: name, lines: fc.integer(), follow: fc.boolean() })),
    }, { requiredKeys: [] }),
    json: fc.boolean(),
  })
}

/** a request payload: an envelope as CBOR or JSON, or deep nesting, or bytes that are neither */
export function requestPayload (replyTopic: string): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 6, arbitrary: envelope(replyTopic).map(e => (e.json ? Buffer.from(JSON.stringify(e.fields, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))) : encodeCbor(e.fields))) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1000, max: 30_000 }), fc.boolean()).map(([depth, map]) => Buffer.from(`{"id":1,"reply":"${replyTopic}","args":${deepJson(depth, map)}}`)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1000, max: 30_000 }), fc.boolean()).map(([depth, map]) => Buffer.concat([Buffer.from([0xa3, 0x62, 0x69, 0x64, 0x01, 0x65]), Buffer.from('reply'), Buffer.from([0x60 + Math.min(replyTopic.length, 23)]), Buffer.from(replyTopic.slice(0, 23)), Buffer.from([0x64]), Buffer.from('args'), deepCbor(depth, map)])) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map(bytes => Buffer.from(bytes)) },
  )
}

/** a valid PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ or DISCONNECT of a connected client */
export function sessionPacket (replyTopic: string): fc.Arbitrary<Packet> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ topic, payload: requestPayload(replyTopic), qos: fc.constantFrom(0, 1, 2), retain: fc.boolean(), messageId: fc.integer({ min: 1, max: 65535 }) }).map(p => ({ cmd: 'publish' as const, dup: false, ...p, qos: p.qos as 0 | 1 | 2 })) },
    { weight: 2, arbitrary: fc.record({ topics: fc.array(topic, { minLength: 1, maxLength: 3 }), qos: fc.constantFrom(0, 1, 2), messageId: fc.integer({ min: 1, max: 65535 }) }).map(p => ({ cmd: 'subscribe' as const, messageId: p.messageId, subscriptions: p.topics.map(t => ({ topic: t, qos: p.qos as 0 | 1 | 2 })) })) },
    { weight: 1, arbitrary: fc.record({ topics: fc.array(topic, { minLength: 1, maxLength: 3 }), messageId: fc.integer({ min: 1, max: 65535 }) }).map(p => ({ cmd: 'unsubscribe' as const, messageId: p.messageId, unsubscriptions: p.topics })) },
    { weight: 1, arbitrary: fc.constant({ cmd: 'pingreq' as const }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 65535 }).map(messageId => ({ cmd: 'puback' as const, messageId })) },
  )
}

/** a CONNECT with every field sometimes odd: client ids with wildcards, control bytes, huge; wills; bad versions */
export const connectPacket: fc.Arbitrary<Packet> = fc.record({
  clientId: fc.oneof(fc.constantFrom('', '#', '+', 'a/b', 'target.0', 'admin', 'x\u0000y', 'fuzz'), fc.string({ maxLength: 300 })),
  clean: fc.boolean(),
  keepalive: fc.integer({ min: 0, max: 65535 }),
  protocolVersion: fc.constantFrom(3, 4, 4, 4, 5),
  username: fc.option(fc.constantFrom('admin', 'viewer', 'target.0', 'x'.repeat(5000)), { nil: undefined }),
  password: fc.option(fc.uint8Array({ maxLength: 64 }).map(b => Buffer.from(b)), { nil: undefined }),
  will: fc.option(fc.record({ topic, payload: fc.uint8Array({ maxLength: 512 }).map(b => Buffer.from(b)), qos: fc.constantFrom(0, 1, 2), retain: fc.boolean() }), { nil: undefined }),
}).map(c => ({
  cmd: 'connect' as const,
  protocolId: c.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
  protocolVersion: c.protocolVersion as 3 | 4 | 5,
  clientId: c.clientId,
  clean: c.clean,
  keepalive: c.keepalive,
  ...(c.username === undefined ? {} : { username: c.username }),
  ...(c.password === undefined || c.username === undefined ? {} : { password: c.password }),
  ...(c.will === undefined ? {} : { will: { ...c.will, qos: c.will.qos as 0 | 1 | 2 } }),
}))

/** a packet's bytes, whole or structurally mutated: flipped, cut, padded, its length field lied about */
export function mutated (packet: fc.Arbitrary<Packet>): fc.Arbitrary<Buffer> {
  const bytes = packet.map(p => {
    try {
      return mqttPacket.generate(p)
    } catch {
      return Buffer.from([0xe0, 0x00]) // a packet mqtt-packet will not make (e.g. MQTT 5 fields): a DISCONNECT instead
    }
  })
  return fc.oneof(
    { weight: 4, arbitrary: bytes },
    { weight: 1, arbitrary: fc.tuple(bytes, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, value]) => { const c = Buffer.from(b); if (c.length > 0) c[at % c.length] = value; return c }) },
    { weight: 1, arbitrary: fc.tuple(bytes, fc.nat()).map(([b, at]) => b.subarray(0, b.length === 0 ? 0 : at % b.length)) },
    { weight: 1, arbitrary: fc.tuple(bytes, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([b, junk]) => Buffer.concat([b, Buffer.from(junk)])) },
    // a remaining length that promises more than comes (or a malformed 5-byte varint)
    { weight: 1, arbitrary: fc.tuple(bytes, fc.constantFrom([0xff, 0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0xff, 0x01], [0x80, 0x80, 0x80, 0x80, 0x80])).map(([b, len]) => Buffer.concat([b.subarray(0, 1), Buffer.from(len), b.subarray(2)])) },
  )
}
