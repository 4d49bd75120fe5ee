// Benchmark module: a steady load like a gateway's sensors: `sensors` of them, each emitting one `reading`
// hook every `everyMs` whose data is `dataBytes` of CBOR, spread over the interval.
import { runModule } from '../../core/sdk/index.js'
import { encodeCbor } from '../../core/protocol/codec.js'

runModule<{ sensors: number, everyMs: number, dataBytes: number }>(async (m) => {
  const { sensors, everyMs, dataBytes } = m.config
  m.hooks('reading')
  await m.start()
  const probe = (pad: string): number => encodeCbor({ sensor: 0, celsius: 21.5, pad }).length
  const pad = 'x'.repeat(Math.max(0, dataBytes - probe('')))
  for (let sensor = 0; sensor < sensors; sensor++) {
    setTimeout(() => setInterval(() => m.emit('reading', { sensor, celsius: 21.5, pad }), everyMs), (sensor * everyMs) / sensors)
  }
})
