// issue 10 F1 and A7: modules that print as fast as they can, in short lines or in lines of 96 MiB, beside a
// steady module, on a core (`outpost run`, a real process) whose stdout is a pipe nobody reads, as under a
// stalled journald or docker. The core's memory stays bounded, the steady module answers every call, and
// what the limits dropped or cut is said in the module's log and counted in `status`.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { connectOperator, fixture, poll, waitFor } from '../helpers/gateway.js'
import { CLI } from '../management/helpers.js'

const MiB = 1024 * 1024
const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-flood-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** the anonymous memory of a process (heap, buffers: what a queued log grows), from /proc */
function rssAnon (pid: number): number {
  const match = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1]) * 1024
}

test('issue 10 F1/A7: a log flood and 96 MiB lines beside a steady module: core memory bounded, no call lost, drops counted and said', async () => {
  const file = path.join(dir, 'gateway.json')
  writeFileSync(file, JSON.stringify({
    gateway: 'flood-test',
    board: 'sim',
    runtimeDir: path.join(dir, 'run'),
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    modules: [
      { name: 'steady', entry: fixture('echo') },
      { name: 'flood', entry: fixture('flood'), config: { mode: 'lines' } },
      { name: 'long', entry: fixture('flood'), config: { mode: 'long' } },
    ],
  }))
  const core = spawn(process.execPath, [CLI, 'run', file], { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise(resolve => core.once('exit', resolve))
  try {
    let out = ''
    const onData = (chunk: Buffer): void => { out += chunk.toString() }
    core.stdout.on('data', onData)
    const url = await waitFor('the broker to listen', () => /broker listening: .*, (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 20_000)
    // from here on nobody reads the core's stdout: the pipe fills and stays full
    core.stdout.off('data', onData)
    core.stdout.pause()
    const op = await connectOperator(url)
    try {
      await poll(async () => {
        const list = (await op.call('core', 'list')).result as Array<{ state: string }>
        return list.length === 3 && list.every(m => m.state === 'running') ? true : undefined
      }, 200)
      const before = rssAnon(core.pid ?? 0)

      let peak = before
      let calls = 0
      const lost: string[] = []
      const floodingFrom = Date.now()
      while (Date.now() - floodingFrom < 6000) {
        const reply = await op.call('steady', 'echo', calls, 10_000).catch((err: Error) => ({ error: { code: 'LOST', message: err.message } }))
        if ('error' in reply && reply.error !== undefined) lost.push(`${calls}: ${reply.error.message}`)
        calls++
        peak = Math.max(peak, rssAnon(core.pid ?? 0))
      }
      assert.deepEqual(lost, [], 'the steady module answers every call')
      assert.ok(calls > 50, `${calls} calls in 6 s`)
      // before the fix the core's RssAnon went from 23 to 591-695 MiB in 8 s
      assert.ok(peak - before < 96 * MiB, `core RssAnon grew by ${((peak - before) / MiB).toFixed(1)} MiB (${(before / MiB).toFixed(1)} → ${(peak / MiB).toFixed(1)})`)

      const flood = (await op.call('core', 'status', { module: 'flood' })).result as { state: string, logs: { linesDropped: number, linesCut: number } }
      assert.equal(flood.state, 'running')
      assert.ok(flood.logs.linesDropped > 1000, `flood: ${flood.logs.linesDropped} lines dropped`)
      const long = (await op.call('core', 'status', { module: 'long' })).result as { state: string, logs: { linesDropped: number, linesCut: number } }
      assert.equal(long.state, 'running')
      assert.ok(long.logs.linesCut > 0, `long: ${long.logs.linesCut} lines cut`)

      const floodLog = (await op.call('core', 'logs', { module: 'flood', lines: 500 })).result as { lines: Array<{ level: string, text: string }> }
      assert.ok(floodLog.lines.some(l => l.level === 'warn' && /^\d+ line\(s\) dropped: over the limit of 200 lines\/s \(burst 1000\)$/.test(l.text)),
        'the drop record is in the module\'s log')
      const longLog = (await op.call('core', 'logs', { module: 'long', lines: 20 })).result as { lines: Array<{ text: string }> }
      const cut = longLog.lines.filter(l => l.text.endsWith('… [line cut at 8192 bytes]'))
      assert.ok(cut.length > 0)
      for (const line of cut) assert.equal(line.text, `${'x'.repeat(8192)} … [line cut at 8192 bytes]`)
    } finally {
      await op.end()
    }
  } finally {
    core.kill('SIGTERM')
    core.stdout.resume() // let it write its last lines and exit
    await exited
  }
})
