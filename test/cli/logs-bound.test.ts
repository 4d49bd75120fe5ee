// Review 2: `logs` answers at most MAX_TAIL_CHARS of line text, so that a module whose lines are long and full
// of control characters (4 characters each once written out) cannot make the answer larger than the 16 MiB a
// CLI reads in one packet, and so keep operators from reading its history. A real gateway, a real module, the CLI.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_TAIL_CHARS } from '../../core/management/log-store.js'
import { connectOperator, fixture, startTestGateway, waitFor } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { cli } from '../management/helpers.js'

let gw: TestGateway
let op: Operator

before(async () => {
  gw = await startTestGateway({ modules: [{ name: 'noisy', entry: fixture('control-lines') }] })
  op = await connectOperator(gw.url)
  await waitFor('1100 lines written', async () => ((await op.call('noisy', 'written'))?.result as number) >= 1100, 30_000)
  await waitFor('the core to have logged them', () => gw.logs.filter(l => l.source === 'noisy').length >= 1000, 10_000)
})

after(async () => {
  await op?.end()
  await gw?.stop()
})

test('review 2: logs -n 1000 of lines written out to 32,000 characters each: the newest that fit, the rest counted as omitted', async () => {
  const answer = (await op.call('core', 'logs', { module: 'noisy', lines: 1000 }))?.result as { lines: Array<{ text: string }>, omitted?: number }
  const chars = answer.lines.reduce((sum, l) => sum + l.text.length, 0)
  assert.ok(chars <= MAX_TAIL_CHARS, `${chars} characters`)
  assert.ok(chars + 32_000 > MAX_TAIL_CHARS, 'as many as fit')
  assert.ok((answer.omitted ?? 0) > 0 && answer.lines.length + (answer.omitted ?? 0) <= 1000, JSON.stringify({ lines: answer.lines.length, omitted: answer.omitted }))
  const r = await cli(['logs', 'noisy', '-n', '1000', '--url', gw.url], {}, undefined, 60_000)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.split('\n').filter(l => l.includes('\\x01')).length, answer.lines.length)
  assert.match(r.stderr, /^outpost: \d+ older lines left out: the gateway answers at most 2 Mi characters of log text at once\n$/)
})
