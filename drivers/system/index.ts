// system driver: emits `health` every interval and answers `read` with the latest sample.
import { runModule } from '../../core/sdk/index.js'
import { readHealth } from './read.js'
import type { Health } from './read.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  let last: Health | undefined
  const sample = async (): Promise<Health> => {
    last = await readHealth(m.config)
    return last
  }
  m.hooks('health')
  m.method('read', () => last ?? sample())
  await m.start()
  const first = await sample()
  const missing = m.config.disks.filter(d => !first.disks.some(x => x.mount === d))
  if (missing.length > 0) m.log.warn(`cannot read filesystems ${missing.join(', ')}; they are left out`)
  const tick = (): void => {
    sample().then(health => m.emit('health', health), err => m.log.error('cannot sample health', { error: err as Error }))
  }
  m.emit('health', first)
  const timer = setInterval(tick, m.config.intervalMs)
  m.onStop(() => clearInterval(timer))
})
