// Benchmark module: `run` times SDK calls to another module's `echo` (m.call → broker → echo → broker → reply).
import { runModule } from '../../core/sdk/index.js'
import { runLoop } from '../lib/loop.js'
import type { LoopSpec } from '../lib/loop.js'

/** a small reading, as a driver would send it: the request envelope around it is about 100 bytes of CBOR */
const ARGS = { sensor: '28-00000a1b2c3d', celsius: 21.5, seq: 1 }

runModule(async (m) => {
  m.method('run', ({ target, ...spec }: LoopSpec & { target: string }) => runLoop(() => m.call(target, 'echo', ARGS), spec))
  await m.start()
})
