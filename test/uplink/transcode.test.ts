// Review 5, finding 3: a fleet operator asking in JSON makes the uplink decode the module's CBOR reply and
// encode it as JSON, and the decoding costs a hundred times a small value's bytes: one request answered by
// 256 KiB of empty byte strings (262,000 of them, ≈ 28 MiB once decoded) killed the uplink (V8 out of heap
// at its default 64 MiB budget). A reply is turned from one format into the other only up to 64 KiB
// (MAX_TRANSCODED_BYTES); past it the operator gets TOO_LARGE and is told to ask in CBOR, which passes the
// reply through undecoded. A real gateway, its uplink, a real Mosquitto.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { MAX_TRANSCODED_BYTES } from '../../modules/uplink/downlink.js'
import { connectOperator, fixture, startTestGateway } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { fleetOperator, uplinkConnected, uplinkInstance, uplinkStats } from '../helpers/fleet.js'
import type { FleetOperator } from '../helpers/fleet.js'
import { startUpstream } from '../helpers/upstream.js'
import type { Upstream } from '../helpers/upstream.js'

const USERS = { gw: 'gw-secret-12', alice: 'alice-secret-12', bob: 'bob-secret-12' }
let upstream: Upstream
let gw: TestGateway
let local: Operator
let alice: FleetOperator
let raw: MqttClient


before(async () => {
  upstream = await startUpstream(USERS)
  gw = await startTestGateway({
    gateway: 'gw',
    modules: [{ name: 'blob', entry: fixture('blob') }],
    uplink: {
      url: upstream.url, fleetId: 'gw', username: 'gw', password: USERS.gw, ca: upstream.ca, keepaliveSeconds: 60,
      backoff: { initialMs: 100, maxMs: 1000 }, operators: [{ user: 'alice', role: 'admin' }], expose: [{ module: 'blob', methods: '*', role: 'viewer' }],
    },
  })
  local = await connectOperator(gw.url)
  await uplinkConnected(local)
  raw = await upstream.client('alice')
  alice = await fleetOperator(await upstream.client('alice'), 'alice')
})

after(async () => {
  await alice?.end()
  await raw?.endAsync()
  await local?.end()
  await gw?.stop()
  await upstream?.stop()
})

/** a request in JSON, as mosquitto_pub sends one; resolves with the reply's text */
async function askInJson (id: number, n: number): Promise<string> {
  const reply = 'outpost/gw/reply/alice/json'
  const answer = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to the JSON request ${id}`)), 20_000)
    const onMessage = (topic: string, payload: Buffer): void => {
      if (topic !== reply || !payload.toString('utf8').includes(`"id":${id}`)) return
      clearTimeout(timer)
      raw.off('message', onMessage)
      resolve(payload.toString('utf8'))
    }
    raw.on('message', onMessage)
  })
  raw.publish('outpost/gw/rpc/blob/chunks/alice', JSON.stringify({ id, reply, timeout: 10_000, args: { n } }))
  return await answer
}

test('review 5: a reply turned into JSON is at most 64 KiB of CBOR: past it TOO_LARGE, "ask in CBOR", and the uplink lives on', { timeout: 120_000 }, async () => {
  await raw.subscribeAsync('outpost/gw/reply/alice/json')
  const { pid } = await uplinkInstance(local)
  const small = JSON.parse(await askInJson(1, 10)) as { id: number, result: unknown[] }
  assert.equal(small.id, 1)
  assert.equal(small.result?.length, 10, `a small reply is turned into JSON: ${JSON.stringify(small)}`)
  // 200,000 one-byte values: ≈ 195 KiB of CBOR, ≈ 21 MiB once decoded
  for (const id of [2, 3, 4]) {
    const big = JSON.parse(await askInJson(id, 200_000)) as { id: number, error: { code: string, message: string, details: { bytes: number, limit: number } } }
    assert.equal(big.id, id)
    assert.equal(big.error.code, 'TOO_LARGE', JSON.stringify(big))
    assert.match(big.error.message, /more than the uplink turns from one format into the other \(65536\); ask in CBOR/)
    assert.equal(big.error.details.limit, MAX_TRANSCODED_BYTES)
    assert.ok(big.error.details.bytes > MAX_TRANSCODED_BYTES, JSON.stringify(big))
  }
  // in CBOR a reply over 64 KiB goes up as the module sent it (60,000 byte strings of one byte: ≈ 117 KiB, and
  // fewer objects than a decoder takes: codec.ts MAX_OBJECTS)
  const cbor = await alice.call('gw', 'blob', 'chunks', { n: 60_000, bytes: 1 }, 20_000)
  assert.equal((cbor.result as unknown[] | undefined)?.length, 60_000, JSON.stringify(cbor.error))
  assert.deepEqual(await uplinkInstance(local).then(i => i.pid), pid, 'the same uplink process throughout')
  assert.equal((await uplinkStats(local)).downlink.replaced.tooLarge, 3)
})
