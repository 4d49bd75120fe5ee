// Benchmark module: grows its private memory on request and logs, once, the moment its own reading
// (RssAnon + RssShmem, the sampler's measure) crosses the given limit.
import { readFileSync } from 'node:fs'
import { runModule } from '../../core/sdk/index.js'

function privateBytes (): number {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kB = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  return kB('RssAnon') + kB('RssShmem')
}

runModule(async (m) => {
  const hold: Buffer[] = []
  m.method('grow', ({ mbPerTick, limitMiB }: { mbPerTick: number, limitMiB: number }) => {
    let crossed = false
    setInterval(() => {
      hold.push(Buffer.alloc(mbPerTick * 1024 * 1024, 1))
      if (!crossed && privateBytes() > limitMiB * 1024 * 1024) {
        crossed = true
        m.log.info(`crossed ${Date.now()}`)
      }
    }, 10)
    return 'growing'
  })
  await m.start()
})
