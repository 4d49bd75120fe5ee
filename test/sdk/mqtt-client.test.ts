// The SDK's hand-written MQTT 3.1.1 client against the real embedded broker, with mqtt.js as the peer:
// CONNECT with will and credentials, SUBACK refusals, QoS 0 and 1, large payloads, keepalive and the will.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectMqtt } from '../../core/sdk/mqtt-client.js'
import { OutpostError } from '../../core/errors.js'
import { decodeCbor } from '../../core/protocol/codec.js'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'

test('the thin client talks MQTT 3.1.1 to Aedes and to mqtt.js peers', async (t) => {
  const gw = await startTestGateway({ modules: [{ name: 'alpha', entry: fixture('echo') }] })
  t.after(() => gw.stop())
  const peer = await connectOperator(gw.url)
  t.after(() => peer.end())

  // a module credential: the client id and user name it is bound to
  const credential = gw.gateway.credentials.issue('probe', 0, '*')
  const client = await connectMqtt({
    url: gw.gateway.broker.moduleUrl,
    clientId: credential.username,
    username: credential.username,
    password: credential.password,
    keepaliveSeconds: 1,
    will: { topic: 'presence/probe/0', payload: Buffer.from('gone'), retain: false, qos: 0 },
  })

  // inbound: a subscription it may have, and a large QoS 1 publish from the peer, reassembled whole; a
  // retained message replayed to the new subscription says so, a live one does not, even when published retained
  const received: Array<{ topic: string, payload: Buffer, retained: boolean }> = []
  client.onMessage((topic, payload, retained) => received.push({ topic, payload, retained }))
  await peer.client.publishAsync('hooks/peer/kept', Buffer.from('before'), { qos: 1, retain: true })
  await client.subscribe(['hooks/peer/#'])
  await waitFor('the retained message', () => received.find(r => r.topic === 'hooks/peer/kept'))
  await peer.client.publishAsync('hooks/peer/kept', Buffer.from('live'), { qos: 1, retain: true })
  await waitFor('the live message', () => received.filter(r => r.topic === 'hooks/peer/kept').length === 2)
  assert.deepEqual(received.filter(r => r.topic === 'hooks/peer/kept').map(r => [r.payload.toString(), r.retained]), [['before', true], ['live', false]])
  const big = Buffer.alloc(200_000, 7)
  await peer.client.publishAsync('hooks/peer/big', big, { qos: 1 })
  await waitFor('the large message', () => received.find(r => r.topic === 'hooks/peer/big'))
  assert.equal(received.find(r => r.topic === 'hooks/peer/big')?.payload.equals(big), true)
  // a handler owns its payload: later reads do not overwrite it
  await peer.client.publishAsync('hooks/peer/first', Buffer.from('first'))
  await waitFor('the first message', () => received.find(r => r.topic === 'hooks/peer/first'))
  await peer.client.publishAsync('hooks/peer/second', Buffer.from('SECOND'))
  await waitFor('the second message', () => received.find(r => r.topic === 'hooks/peer/second'))
  assert.equal(received.find(r => r.topic === 'hooks/peer/first')?.payload.toString(), 'first')

  // outbound: QoS 0 and QoS 1 (resolved by the PUBACK) reach the peer intact
  const seen: Array<{ topic: string, payload: Buffer }> = []
  peer.client.on('message', (topic, payload) => seen.push({ topic, payload }))
  await peer.client.subscribeAsync('hooks/probe/#')
  await client.publish('hooks/probe/q0', Buffer.from([1, 2, 3]))
  assert.equal(client.send('hooks/probe/sent', Buffer.from([4])), true)
  await client.publish('hooks/probe/q1', Buffer.from('héllo'), { qos: 1 })
  await waitFor('the three publishes', () => seen.length >= 3)
  assert.deepEqual(seen.map(s => [s.topic, [...s.payload]]), [['hooks/probe/q0', [1, 2, 3]], ['hooks/probe/sent', [4]], ['hooks/probe/q1', [...Buffer.from('héllo')]]])

  // a refused subscription (SUBACK 0x80) rejects with NOT_AUTHORISED and the connection stays usable
  await assert.rejects(client.subscribe(['reply/somebody-else']), (err: OutpostError) => err.code === 'NOT_AUTHORISED' && /reply\/somebody-else/.test(err.message))
  await client.publish('hooks/probe/after', Buffer.from('still here'), { qos: 1 })

  // the keepalive holds the connection open past 1.5 × keepalive
  await new Promise(resolve => setTimeout(resolve, 2000))
  await client.publish('hooks/probe/alive', Buffer.from('x'), { qos: 1 })

  // a clean DISCONNECT discards the will [MQTT-3.14.4-3]; a connection that dies without one publishes it
  const wills: string[] = []
  peer.client.on('message', (topic, payload) => {
    if (topic === 'presence/probe/0') wills.push(payload.toString())
    if (topic === 'presence/alpha/0') wills.push((decodeCbor(payload) as { state: string }).state)
  })
  await peer.client.subscribeAsync(['presence/probe/0', 'presence/alpha/0'])
  await client.end()
  assert.equal(client.send('hooks/probe/late', Buffer.from('x')), false, 'nothing is sent on a closed connection')
  gw.gateway.credentials.revoke(credential.username)
  await waitFor('the retained ready presence of alpha', () => wills.includes('ready'))
  const alpha = gw.gateway.modules.require('alpha').instances[0]
  alpha?.process?.signal('SIGKILL')
  await waitFor('alpha\'s will', () => wills.includes('offline'))
  assert.ok(!wills.includes('gone'), 'a clean disconnect must not publish the will')
})

test('a refused connection says why', async (t) => {
  const gw = await startTestGateway({ modules: [] })
  t.after(() => gw.stop())
  await assert.rejects(
    connectMqtt({ url: gw.gateway.broker.moduleUrl, clientId: 'ghost.0', username: 'ghost.0', password: 'nope', keepaliveSeconds: 5 }),
    (err: OutpostError) => err.code === 'NOT_AUTHORISED' && /bad user name or password/.test(err.message),
  )
  await assert.rejects(
    connectMqtt({ url: 'unix:/nonexistent/broker.sock', clientId: 'x.0', keepaliveSeconds: 5 }),
    (err: OutpostError) => err.code === 'NOT_CONNECTED' && /cannot reach broker at unix:\/nonexistent\/broker\.sock/.test(err.message),
  )
})
