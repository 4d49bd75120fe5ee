// Soak neighbour: prints log lines and emits hooks nobody subscribes to, as fast as the core takes them. It
// waits for stdout to drain when the core stops reading it (the core's rate limit on module output): a writer
// that ignores backpressure grows its own memory and is stopped for it, which ends the flood, not the soak.
import { once } from 'node:events'
import { runModule } from '../../core/sdk/index.js'

const LINE = `flood ${'x'.repeat(100)}\n`
/** per turn of the event loop, so the module still answers its keepalive */
const LINES = 200
const HOOKS = 50

runModule(async (m) => {
  m.hooks('flood')
  await m.start()
  let seq = 0
  for (;;) {
    const flowing = process.stdout.write(LINE.repeat(LINES))
    for (let i = 0; i < HOOKS; i++) m.emit('flood', { seq: seq++ })
    if (!flowing) await once(process.stdout, 'drain')
    else await new Promise(resolve => setImmediate(resolve))
  }
})
