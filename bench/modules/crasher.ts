// Soak neighbour: says ready, then dies by an uncaught exception a little later, every time it is started.
import { runModule } from '../../core/sdk/index.js'

/** long enough to be `running`, short enough to be restarted many times in a soak */
const LIVES_MS = 1500

runModule(async (m) => {
  await m.start()
  setTimeout(() => { throw new Error('soak: the crasher crashes, as it is told') }, LIVES_MS)
})
