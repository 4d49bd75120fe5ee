// serial-line driver processes on a real gateway, with a simulated device on the far end of a socat PTY pair:
// lines decoded by each parser, writes reaching the device, a missing port, an unplug and a replug.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { startTestGateway, connectOperator, waitFor, poll, watchHooks } from '../helpers/gateway.js'
import type { Operator, TestGateway } from '../helpers/gateway.js'
import { startPtyPair } from '../helpers/pty.js'
import { openDevice, ptyPair, tempDir } from '../serial/sim.js'
import type { SimDevice } from '../serial/sim.js'
import { createLineParser, toValue } from '../../drivers/serial-line/parse.js'

async function gatewayWith (t: TestContext, modules: unknown[]): Promise<{ gw: TestGateway, op: Operator }> {
  const gw = await startTestGateway({ modules })
  t.after(() => gw.stop())
  const op = await connectOperator(gw.url)
  t.after(() => op.end())
  return { gw, op }
}

async function device (t: TestContext, devicePath: string): Promise<SimDevice> {
  const dev = await openDevice(devicePath)
  t.after(() => dev.close())
  return dev
}

async function ok (op: Operator, module: string, method: string, args?: unknown): Promise<any> {
  const reply = await op.call(module, method, args)
  assert.equal(reply.error, undefined, `${module}.${method}: ${JSON.stringify(reply.error)}`)
  return reply.result
}

test('parsers: numbers converted, key=value pairs with their separators, lines that are not readings', () => {
  assert.deepEqual([toValue('21.5'), toValue('-3'), toValue(' 1e3 '), toValue('.5'), toValue('0x1F'), toValue(''), toValue('12a')], [21.5, -3, 1000, 0.5, '0x1F', '', '12a'])
  const kv = createLineParser({ type: 'keyvalue', kvSeparator: '=' })
  assert.deepEqual(kv('T=21.5  H=40 state=ok'), { T: 21.5, H: 40, state: 'ok' })
  assert.equal(kv('READY'), undefined)
  assert.equal(kv('T=21.5 junk'), undefined)
  assert.equal(kv('=5'), undefined)
  assert.deepEqual(kv('__proto__=1'), JSON.parse('{"__proto__":1}'), 'an own field, not the prototype')
  const semicolons = createLineParser({ type: 'keyvalue', pairSeparator: ';', kvSeparator: ':' })
  assert.deepEqual(semicolons('temp: 21.5; rh:40;'), { temp: 21.5, rh: 40 })
  const filter = createLineParser({ type: 'regex', pattern: '^OK' })
  assert.deepEqual([filter('OK 3'), filter('ERR')], [{ line: 'OK 3' }, undefined])
})

/** a manifest the gateway must refuse; one it starts by mistake is stopped again */
async function refused (modules: unknown[], message: RegExp): Promise<void> {
  let gw: TestGateway | undefined
  await assert.rejects(async () => { gw = await startTestGateway({ modules }) }, message).finally(() => gw?.stop())
}

test('config: exactly one of uart and path; an unknown UART and a claimed UART are manifest errors', { timeout: 30_000 }, async () => {
  const entry = (name: string, config: unknown) => ({ name, entry: 'drivers/serial-line', config })
  await refused([entry('a', { uart: 'sim0', path: '/dev/ttyUSB0' })], /exactly one of "uart".*or "path"/)
  await refused([entry('a', {})], /exactly one of "uart"/)
  await refused([entry('a', { uart: 'serial0' })], /board sim has no uart "serial0"/)
  await refused([entry('a', { uart: 'sim1' }), entry('b', { uart: 'sim1' })], /sim1/)
})

test('on the board UART sim0: a missing port reported once, lines decoded, writes, unplug and replug', { timeout: 60_000 }, async t => {
  const { gw, op } = await gatewayWith(t, [{ name: 'meter', entry: 'drivers/serial-line', enabled: false, config: { uart: 'sim0', parser: { type: 'keyvalue' }, hook: 'reading' } }])
  const hooks = await watchHooks(op, 'meter')
  await gw.gateway.modules.start('meter')
  const ttyDir = path.join(gw.gateway.runtimeDir, 'sim', 'tty')
  const portPath = path.join(ttyDir, 'sim0')

  // nothing at the UART's path yet: reported, not fatal, retried
  const [missing] = await waitFor('the disconnected hook', () => hooks.of('disconnected').length > 0 && hooks.of('disconnected'))
  assert.equal(missing.path, portPath, 'the UART name resolved through the board')
  assert.equal(missing.reason, 'unavailable')
  assert.equal(missing.code, 'SERIAL_NOT_FOUND')
  const waiting = await poll(async () => {
    const status = await ok(op, 'meter', 'status')
    return status.stats.openAttempts >= 3 ? status : undefined
  })
  assert.equal(waiting.open, false)
  assert.equal(waiting.lastError.code, 'SERIAL_NOT_FOUND')

  // the device appears: socat makes the PTY pair at the UART's path
  mkdirSync(ttyDir, { recursive: true })
  const pair = await startPtyPair(ttyDir, { a: 'sim0', b: 'device' })
  t.after(() => pair.stop())
  await waitFor('the connected hook', () => hooks.of('connected').length === 1)
  assert.deepEqual(hooks.of('connected'), [{ path: portPath }])
  assert.equal(hooks.of('disconnected').length, 1, 'one disconnected hook for the whole wait, whatever the retries')
  const notFoundLines = gw.logs.filter(l => l.source === 'meter' && /sim0 does not exist/.test(l.text))
  assert.equal(notFoundLines.length, 1, 'one log line for the whole wait')
  assert.equal(notFoundLines[0]?.level, 'warn')

  let dev = await device(t, pair.pathB)
  // an empty line never makes a line at all; one of blanks is not a reading
  await dev.write('T=21.5 H=40\nbooting, please wait\n\n  \nP=1013.2 unit=hPa\n')
  await waitFor('two readings', () => hooks.of('reading').length === 2)
  assert.deepEqual(hooks.of('reading'), [{ T: 21.5, H: 40 }, { P: 1013.2, unit: 'hPa' }])
  const status = await ok(op, 'meter', 'status')
  assert.equal(status.open, true)
  assert.equal(status.path, portPath)
  assert.equal(status.lastError, null)
  assert.deepEqual([status.stats.lines, status.stats.emitted, status.stats.unmatched], [4, 2, 2])

  assert.deepEqual(await ok(op, 'meter', 'write', { data: 'READ' }), { bytes: 5 })
  await ok(op, 'meter', 'write', { data: 'RAW', newline: false })
  await dev.waitFor('the writes', got => got.toString() === 'READ\nRAW')
  assert.equal((await op.call('meter', 'write', { data: 42 })).error?.code, 'BAD_ARGUMENTS')

  // unplug: socat goes, and its links with it
  await dev.close()
  await pair.stop()
  const [unplugged] = await waitFor('the disconnected hook', () => hooks.of('disconnected').length === 2 && hooks.of('disconnected').slice(1))
  assert.ok(['vanished', 'disconnected'].includes(unplugged.reason), unplugged.reason)
  assert.equal(unplugged.code, 'SERIAL_DISCONNECTED')
  assert.equal(unplugged.path, portPath)
  const down = await ok(op, 'meter', 'status')
  assert.equal(down.open, false, 'the module still answers')
  const refused = await op.call('meter', 'write', { data: 'x' })
  assert.equal(refused.error?.code, 'SERIAL_DISCONNECTED')
  // reopening fails while the device is away (SERIAL_NOT_FOUND now): still the same outage
  const away = await poll(async () => {
    const status = await ok(op, 'meter', 'status')
    return status.stats.openAttempts >= down.stats.openAttempts + 2 ? status : undefined
  })
  assert.equal(away.lastError.code, 'SERIAL_NOT_FOUND')

  // replug on the same links, new PTYs behind them; a partial line from before is not glued on
  await pair.restart()
  await waitFor('the connected hook', () => hooks.of('connected').length === 2)
  dev = await device(t, pair.pathB)
  await dev.write('T=22\n')
  await waitFor('a reading after the replug', () => hooks.of('reading').length === 3)
  assert.deepEqual(hooks.of('reading')[2], { T: 22 })
  assert.equal(hooks.of('disconnected').length, 2, 'one disconnected hook for the unplug')
})

test('raw lines with CR LF, regex with named groups and with field names, and a write the device does not take', { timeout: 60_000 }, async t => {
  const dir = tempDir(t)
  const [rawPair, namedPair, fieldsPair] = await Promise.all([
    ptyPair(t, dir, { a: 'raw', b: 'raw-dev' }),
    ptyPair(t, dir, { a: 'named', b: 'named-dev' }),
    ptyPair(t, dir, { a: 'fields', b: 'fields-dev' }),
  ])
  const { op } = await gatewayWith(t, [
    { name: 'console', entry: 'drivers/serial-line', config: { path: rawPair.pathA, delimiter: '\r\n', writeTimeoutMs: 300 } },
    { name: 'probes', entry: 'drivers/serial-line', config: { path: namedPair.pathA, baudRate: 115200, parser: { type: 'regex', pattern: '^(?<sensor>\\w+): (?<value>-?[\\d.]+)(?<unit>[CF])?$' }, hook: 'probe/reading' } },
    { name: 'relays', entry: 'drivers/serial-line', config: { path: fieldsPair.pathA, parser: { type: 'regex', pattern: '^ID(\\d+),(\\w+),(\\S+)$', fields: ['id', 'state', 'code'] } } },
  ])
  const rawHooks = await watchHooks(op, 'console')
  const namedHooks = await watchHooks(op, 'probes')
  const fieldHooks = await watchHooks(op, 'relays')
  // the ports opened before anyone listened: wait until each says so
  for (const module of ['console', 'probes', 'relays']) await poll(async () => ((await ok(op, module, 'status')).open === true ? true : undefined))

  const rawDev = await device(t, rawPair.pathB)
  await rawDev.write('hello\r\n\r\nx = 1; y\r\n')
  await waitFor('raw lines', () => rawHooks.of('line').length === 2)
  assert.deepEqual(rawHooks.of('line'), [{ line: 'hello' }, { line: 'x = 1; y' }])

  const namedDev = await device(t, namedPair.pathB)
  await namedDev.write('probe1: 21.5C\nnot a probe\nprobe2: -3\n')
  await waitFor('probe readings', () => namedHooks.of('probe/reading').length === 2)
  assert.deepEqual(namedHooks.of('probe/reading'), [{ sensor: 'probe1', value: 21.5, unit: 'C' }, { sensor: 'probe2', value: -3, unit: null }])
  assert.equal((await ok(op, 'probes', 'status')).stats.unmatched, 1)

  const fieldsDev = await device(t, fieldsPair.pathB)
  await fieldsDev.write('ID7,ON,0x1F\nID8,OFF\nID12,OFF,-\n')
  await waitFor('relay lines', () => fieldHooks.of('line').length === 2)
  assert.deepEqual(fieldHooks.of('line'), [{ id: 7, state: 'ON', code: '0x1F' }, { id: 12, state: 'OFF', code: '-' }])

  // CR LF added to writes; then a frozen socat: the PTY fills up and a big write cannot complete
  await ok(op, 'console', 'write', { data: 'AT' })
  await rawDev.waitFor('the command', got => got.toString() === 'AT\r\n')
  rawPair.pause()
  t.after(() => { rawPair.resume() })
  const big = 'x'.repeat(200 * 1024)
  const stuck = await op.call('console', 'write', { data: big, newline: false }, 10_000)
  assert.equal(stuck.error?.code, 'SERIAL_WRITE_TIMEOUT')
  assert.match(stuck.error?.message ?? '', /did not complete within 300 ms/)
  rawPair.resume()
  await rawDev.waitFor('the big write to drain', got => got.length === 4 + big.length, 15_000)
  const status = await ok(op, 'console', 'status')
  assert.equal(status.open, true, 'a slow device is not a disconnect')
  assert.equal(status.stats.writeTimeouts, 1)
})

/** private memory of a process in KiB (RssAnon in /proc/<pid>/status) */
function rssAnonKiB (pid: number): number {
  const match = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? NaN)
}

test('issue 10 G4: 5.4 MiB without a delimiter is dropped as one over-long line (counted, logged), memory stays flat, the next line arrives', { timeout: 90_000 }, async t => {
  const pair = await ptyPair(t)
  const { gw, op } = await gatewayWith(t, [{ name: 'flood', entry: 'drivers/serial-line', enabled: false, config: { path: pair.pathA, hook: 'line' } }])
  const hooks = await watchHooks(op, 'flood')
  await gw.gateway.modules.start('flood')
  await waitFor('the connected hook', () => hooks.of('connected').length === 1)
  const dev = await device(t, pair.pathB)
  const pid = gw.gateway.modules.require('flood').instances[0]?.state.pid
  assert.ok(typeof pid === 'number')
  await dev.write('before\n')
  await waitFor('the first line', () => hooks.of('line').length === 1)
  const before = rssAnonKiB(pid)

  const block = Buffer.alloc(64 * 1024, 'x')
  const total = Math.round(5.4 * 1024 * 1024)
  for (let sent = 0; sent < total; sent += block.length) await dev.write(block)
  // a line exactly at the limit (65536 bytes) still passes
  await dev.write(`\n${'y'.repeat(65_536)}\nafter\n`)
  await waitFor('the line after the flood', () => hooks.of('line').length === 3, 60_000)
  assert.deepEqual(hooks.of('line').map(h => h.line.length), [6, 65_536, 5])
  assert.equal(hooks.of('line')[2].line, 'after')
  const status = await ok(op, 'flood', 'status')
  assert.equal(status.stats.tooLong, 1)
  assert.equal(status.stats.lines, 3)
  assert.ok(status.stats.bytesIn > total)
  assert.ok(gw.logs.some(l => l.source === 'flood' && /dropped 1 frame\(s\) longer than 65536 bytes/.test(l.text)))
  const grown = rssAnonKiB(pid) - before
  // unbounded, the driver grew by 16 MiB on this flood; bounded, it holds at most one 64 KiB line
  assert.ok(grown < 8 * 1024, `the driver grew by ${grown} KiB`)
})
