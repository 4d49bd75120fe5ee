// chaos-monkey module: every `everySeconds`, crashes the next target through its `crash` RPC.
import { runModule } from '../../core/sdk/index.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  await m.start()
  let next = 0
  const timer = setInterval(() => {
    const target = m.config.targets[next++ % m.config.targets.length] ?? ''
    m.log.warn(`crashing ${target} on purpose`)
    m.call(target, 'crash', null, { timeout: 1000 }).catch((err: Error) => m.log.warn(`${target}.crash: ${err.message}`))
  }, m.config.everySeconds * 1000)
  m.onStop(() => clearInterval(timer))
})
