// `outpost top` on a real pseudo-terminal (tmux) against a live gateway: what the screen shows, that it
// follows a change, and that q quits with exit code 0.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { startTestGateway, connectOperator, fixture, waitFor } from '../helpers/gateway.js'
import type { TestGateway, Operator } from '../helpers/gateway.js'
import { CLI } from '../management/helpers.js'

let gw: TestGateway
let op: Operator
const server = `outpost-top-${process.pid}` // a tmux server of our own, so cleanup touches nothing else

function tmux (...args: string[]): string {
  return execFileSync('tmux', ['-L', server, ...args], { encoding: 'utf8', timeout: 10_000 })
}

const screen = (): string => tmux('capture-pane', '-p', '-t', 'top')

before(async () => {
  gw = await startTestGateway({
    modules: [
      { name: 'alpha', entry: fixture('echo') },
      { name: 'beta', entry: fixture('echo'), memoryMiB: 48, instances: 2 },
    ],
  })
  op = await connectOperator(gw.url)
})

after(async () => {
  try {
    tmux('kill-server')
  } catch {
    // already gone
  }
  await op?.end()
  await gw?.stop()
})

test('top shows every module live, follows a stop, and quits on q', async () => {
  // the shell says how top exited, then waits (the session ends with the tmux server, after the test)
  const command = `NO_COLOR=1 OUTPOST_URL=${gw.url} ${process.execPath} ${CLI} top --interval 0.2; echo "top exited with $?"; sleep 600`
  tmux('new-session', '-d', '-s', 'top', '-x', '140', '-y', '20', command)

  const first = await waitFor('the first frame', () => {
    const text = screen()
    return /^beta /m.test(text) ? text : undefined
  })
  assert.match(first, /^outpost top — test on sim — up \d+s — 2\/2 modules running — .* free of .* — load /m)
  assert.match(first, /^MODULE\s+STATE\s+PID\s+CPU\s+MEMORY \/ BUDGET\s+RESTARTS\s+UPTIME\s+LAST EXIT$/m)
  const alphaPid = gw.gateway.modules.require('alpha').instances[0]?.process?.pid
  assert.match(first, new RegExp(`^alpha\\s+running\\s+${alphaPid}\\s+[\\d.-]+%?\\s+[\\d.]+ MiB / 64 MiB\\s+\\[#*\\.*\\]\\s+0\\s+\\d+s\\s+-\\s*$`, 'm'))
  assert.match(first, /^beta\s+running\s+\d+ \+1\s+[\d.-]+%?\s+[\d.]+ MiB \/ 96 MiB\s+\[#*\.*\]\s+0\s/m)
  await waitFor('a CPU figure from two samples', () => /^alpha\s+running\s+\d+\s+\d+\.\d%/m.test(screen()))

  await op.call('core', 'stop', { module: 'alpha' }, 15_000)
  const stopped = await waitFor('alpha shown stopped', () => {
    const text = screen()
    return /^alpha\s+stopped\s+-\s+/m.test(text) ? text : undefined
  })
  assert.match(stopped, /1\/2 modules running/)
  assert.match(stopped, /^alpha\s+stopped\s+-\s+-\s+- \/ 64 MiB\s+\[\.{10}\]\s+0\s+-\s+stopped, \d+s ago/m)

  tmux('send-keys', '-t', 'top', 'q')
  const exited = await waitFor('top to exit', () => /top exited with (\d+)/.exec(screen())?.[1])
  assert.equal(exited, '0')
  assert.doesNotMatch(screen(), /MODULE/, 'the terminal\'s own screen is back')
})
