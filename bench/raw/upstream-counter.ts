// The uplink's end-to-end benchmark, upstream side: a subscriber on the upstream broker that counts the
// publisher's hooks as they arrive there, and reports its count to the publisher where the publisher is
// (the upstream itself, or the gateway's broker when the hooks come through the uplink) as the bench
// subscriber module does: a `progress` hook every PROGRESS_EVERY messages, which is the publisher's window.
// The reports go on a connection of their own on both paths. Sent on the subscription's connection (as the
// direct path once did, the upstream being where its publisher is), they changed how that connection's TCP
// acknowledgements came back, Mosquitto's small writes to it coalesced, and the subscriber read 28 KiB
// (≈ 300 hooks) a wake-up instead of one: 0.5 against 6.6 µs of its CPU per hook, an advantage of the
// direct path alone.
// Usage: upstream-counter.js <upstream url> <filter> <progress broker url> <progress hook topic> <every>.
// Stdin: `reset` (prints `reset`) and `stats` (prints `stats {"received":…,"spanMs":…}`).
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { encodeCbor } from '../../core/protocol/codec.js'
import { connectMqtt } from '../../core/sdk/mqtt-client.js'

const [upstreamUrl = '', filter = '', progressUrl = '', progressTopic = '', everyArg = ''] = process.argv.slice(2)
const every = Number(everyArg)

const upstream = await connectMqtt({ url: upstreamUrl, clientId: `bench-counter-${process.pid}`, keepaliveSeconds: 0 })
const reporter = await connectMqtt({ url: progressUrl, clientId: `bench-counter-progress-${process.pid}`, keepaliveSeconds: 0 })

let received = 0
let firstAt = 0
let lastAt = 0
upstream.onMessage(() => {
  const now = performance.now()
  if (received === 0) firstAt = now
  lastAt = now
  received++
  if (received % every === 0) reporter.send(progressTopic, encodeCbor({ data: { received }, ts: Date.now(), instance: 0 }))
})
await upstream.subscribe([filter])
process.stdout.write('subscribed\n')

createInterface({ input: process.stdin }).on('line', line => {
  if (line === 'reset') {
    received = 0
    firstAt = lastAt = 0
    process.stdout.write('reset\n')
  } else if (line === 'stats') process.stdout.write(`stats ${JSON.stringify({ received, spanMs: lastAt - firstAt })}\n`)
}).on('close', () => {
  void upstream.end()
  void reporter.end()
})
