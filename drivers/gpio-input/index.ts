// gpio-input driver: emits `edge/<name>` on every debounced edge, answers `get` with the current level.
import { runModule } from '../../core/sdk/index.js'
import { readBoard } from '../lib/board/index.js'
import { openLine } from '../lib/gpio/index.js'
import type { Config } from './schema.js'

runModule<Config>(async (m) => {
  const { line: name, activeLow, bias, debounceMs } = m.config
  const line = await openLine(readBoard(m.env.boardFile), name, { direction: 'input', activeLow, bias, debounceMs, simRoot: m.env.simRoot })
  let edges = 0
  m.hooks(`edge/${m.config.name}`)
  m.method('get', async () => ({ value: await line.read(), edges }))
  m.onStop(() => line.close())
  // watch before saying ready, so no edge after `running` is missed; edges before the connection are counted only
  let started = false
  line.watch(edge => {
    edges++
    if (started) m.emit(`edge/${m.config.name}`, { line: name, value: edge.value, edge: edge.edge, ts: Date.now() })
  })
  await m.start()
  started = true
  m.log.info(`watching ${name}`, { activeLow, debounceMs })
})
