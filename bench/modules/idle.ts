// Benchmark module: connects, says ready and does nothing (the memory benchmark measures it).
import { runModule } from '../../core/sdk/index.js'

runModule(async (m) => {
  await m.start()
})
