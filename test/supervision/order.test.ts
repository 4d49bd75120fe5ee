// `after` dependencies: started in order (each once the ones it names are running), stopped in reverse.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestGateway, fixture } from '../helpers/gateway.js'

test('modules start after their dependencies are running and stop before them', async (t) => {
  const gw = await startTestGateway({
    modules: [
      { name: 'app', entry: fixture('echo'), after: ['middle'] },
      { name: 'middle', entry: fixture('echo'), after: ['base'] },
      { name: 'base', entry: fixture('echo') },
    ],
  })
  let stopped = false
  t.after(() => (stopped ? undefined : gw.stop()))
  const stops: string[] = []
  gw.gateway.events.on('module-exit', runtime => stops.push(runtime.loaded.spec.name))
  const started = gw.logs.filter(l => l.source === 'core' && l.text.startsWith('started ')).map(l => l.text.split(' ')[1])
  assert.deepEqual(started, ['base.0', 'middle.0', 'app.0'])
  // each started only once the one before it was running
  const at = (text: string): number => gw.logs.findIndex(l => l.source === 'core' && l.text.startsWith(text))
  assert.ok(at('base.0 is running') >= 0)
  assert.ok(at('started middle.0') > at('base.0 is running'))
  assert.ok(at('started app.0') > at('middle.0 is running'))
  stopped = true
  await gw.stop()
  assert.deepEqual(stops, ['app', 'middle', 'base'])
})
