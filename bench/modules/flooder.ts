// Soak neighbour: prints log lines and emits hooks nobody subscribes to, as fast as its event loop turns.
import { runModule } from '../../core/sdk/index.js'

const LINE = `flood ${'x'.repeat(100)}\n`
/** per turn of the event loop, so the module still answers its keepalive */
const LINES = 200
const HOOKS = 50

runModule(async (m) => {
  m.hooks('flood')
  await m.start()
  let seq = 0
  const turn = (): void => {
    process.stdout.write(LINE.repeat(LINES))
    for (let i = 0; i < HOOKS; i++) m.emit('flood', { seq: seq++ })
    setImmediate(turn)
  }
  turn()
})
