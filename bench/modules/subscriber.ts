// Benchmark module: counts `tick` hooks from the publisher, reports progress every `every` messages on its
// `progress` hook (the publisher's flow-control window), and answers `stats` with what it received.
import { performance } from 'node:perf_hooks'
import { runModule } from '../../core/sdk/index.js'

runModule<{ publisher: string, every: number }>(async (m) => {
  let received = 0
  let firstAt = 0
  let lastAt = 0
  m.hooks('progress')
  m.on(`${m.config.publisher}/tick`, () => {
    const now = performance.now()
    if (received === 0) firstAt = now
    lastAt = now
    received++
    if (received % m.config.every === 0) m.emit('progress', { received })
  })
  m.method('reset', () => {
    received = 0
    firstAt = lastAt = 0
    return true
  })
  m.method('stats', () => ({ received, spanMs: lastAt - firstAt }))
  await m.start()
})
