// Benchmark module: answers `echo` with its arguments, nothing else.
import { runModule } from '../../core/sdk/index.js'

runModule(async (m) => {
  m.method('echo', args => args)
  await m.start()
})
