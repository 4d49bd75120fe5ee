// Benchmark module: `blast` emits `tick` hooks (64-byte CBOR messages) as fast as the subscriber takes them.
// A window bounds the messages in flight: the subscriber reports its count on its `progress` hook, and the
// publisher never runs more than `window` messages ahead of it. Without a bound a QoS 0 producer only
// fills buffers (its own or the broker's), and Mosquitto drops QoS 0 messages beyond its default queue.
import { performance } from 'node:perf_hooks'
import { runModule } from '../../core/sdk/index.js'
import { encodeCbor } from '../../core/protocol/codec.js'

export interface BlastSpec {
  count: number
  window: number
  maxMs: number
}

/** seq starts high so it always takes 5 bytes of CBOR: every message has the same size */
const SEQ_BASE = 0x10000
/** messages emitted per turn of the event loop, so progress reports get read in between */
const BURST = 256

runModule<{ subscriber: string, messageBytes: number }>(async (m) => {
  let received = 0
  let wake: (() => void) | undefined
  m.hooks('tick')
  m.on(`${m.config.subscriber}/progress`, (data: { received: number }) => {
    received = data.received
    const pump = wake
    wake = undefined
    pump?.()
  })

  // pad the reading so that the hook envelope ({data, ts, instance}) is exactly messageBytes long
  const probe = (pad: string): number => encodeCbor({ data: { seq: SEQ_BASE, celsius: 21.5, pad }, ts: Date.now(), instance: m.instance }).length
  const padding = 'x'.repeat(Math.max(0, m.config.messageBytes - probe('')))
  const messageBytes = probe(padding)

  m.method('blast', ({ count, window, maxMs }: BlastSpec) => new Promise(resolve => {
    received = 0
    let sent = 0
    let finished = false
    const t0 = performance.now()
    const deadline = t0 + maxMs
    const finish = (): void => {
      if (finished) return
      finished = true
      wake = undefined
      clearInterval(watchdog)
      resolve({ sent, received, messageBytes, elapsedMs: performance.now() - t0 })
    }
    const pump = (): void => {
      if (finished) return
      if (received >= count || performance.now() > deadline) return finish()
      const until = Math.min(count, received + window, sent + BURST)
      while (sent < until) m.emit('tick', { seq: SEQ_BASE + sent++, celsius: 21.5, pad: padding })
      if (sent < count && sent < received + window) setImmediate(pump)
      else wake = pump
    }
    // a lost progress report must not hang the run: the clock ends it
    const watchdog = setInterval(() => { if (performance.now() > deadline) finish() }, 50)
    pump()
  }))
  await m.start()
})
