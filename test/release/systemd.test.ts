// issue 12, the service: under systemd the core says READY=1 once its modules have settled, pings the
// watchdog every WATCHDOG_USEC/2, says STOPPING=1 on SIGTERM, and starts each log line with its syslog
// priority for journald. The notify socket here is a real Unix datagram socket read by a few lines of
// Python that close the barrier descriptors systemd-notify passes, as systemd does.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../helpers/wait.js'

const MAIN = fileURLToPath(new URL('../../core/cli/main.js', import.meta.url))
const RECEIVER = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data, fds, _flags, _addr = socket.recv_fds(s, 4096, 8)
    for fd in fds:
        os.close(fd)
    print(data.decode().replace("\\n", "|"), flush=True)
`
const missing = ['/usr/bin/systemd-notify', '/usr/bin/python3'].find(f => !existsSync(f))

describe('systemd notification and journal levels', { skip: missing === undefined ? false : `needs ${missing}` }, () => {
  let dir: string
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-notify-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('READY=1 after start, WATCHDOG=1 while running, STOPPING=1 on SIGTERM; lines carry <N> priorities', async () => {
    const sock = path.join(dir, 'notify.sock')
    writeFileSync(path.join(dir, 'receiver.py'), RECEIVER)
    const receiver = spawn('python3', [path.join(dir, 'receiver.py'), sock], { stdio: ['ignore', 'pipe', 'inherit'] })
    let messages = ''
    receiver.stdout.on('data', chunk => { messages += String(chunk) })
    await waitFor('the notify socket', () => messages.includes('bound'))
    const manifest = path.join(dir, 'gateway.json')
    writeFileSync(manifest, JSON.stringify({ gateway: 'svc', board: 'sim', runtimeDir: path.join(dir, 'run'), broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] }, modules: [] }))
    const core = spawn(process.execPath, [MAIN, 'run', manifest], {
      env: { ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '1000000', JOURNAL_STREAM: '8:12345', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    core.stdout.on('data', chunk => { output += String(chunk) })
    const exited = new Promise(resolve => core.once('exit', resolve))
    try {
      await waitFor('READY=1', () => /READY=1\|STATUS=gateway svc: 0 module\(s\)/.test(messages), 30_000)
      await waitFor('two watchdog pings', () => (messages.match(/WATCHDOG=1/g) ?? []).length >= 2, 30_000)
      core.kill('SIGTERM')
      assert.equal(await exited, 0)
      await waitFor('STOPPING=1', () => messages.includes('STOPPING=1'), 30_000)
      // every line: <priority> first (6 = info), so journald records the level
      const lines = output.trim().split('\n')
      assert.ok(lines.length > 2)
      for (const line of lines) assert.match(line, /^<[3467]>\d\d:\d\d:\d\d\.\d{3} /, line)
      assert.ok(lines.some(line => line.startsWith('<6>') && line.includes('gateway stopped')))
    } finally {
      core.kill('SIGKILL')
      receiver.kill()
    }
  })
})
