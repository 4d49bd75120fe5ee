// issue 10 review: a module's password comes on its fd 3, read once to EOF, never from the environment. A
// process started by hand (no fd 3, or something else there) fails at once with a clear configuration error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { StdioOptions } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { fixture } from '../helpers/gateway.js'

const ENV = { PATH: process.env.PATH ?? '', OUTPOST_MODULE: 'byhand', OUTPOST_INSTANCE: '0', OUTPOST_USERNAME: 'byhand.0', OUTPOST_BROKER: 'unix:/nonexistent/broker.sock', OUTPOST_CREDENTIAL_FD: '3' }

/** runs the echo fixture with `stdio` and `env`, writing `secret` on fd 3 when it is a pipe; resolves with its exit code and output */
function runByHand (stdio: StdioOptions, secret?: string, env: NodeJS.ProcessEnv = ENV): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, [fixture('echo')], { env, stdio })
  if (secret !== undefined) (child.stdio[3] as Writable).end(secret)
  let output = ''
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return new Promise(resolve => child.once('close', code => resolve({ code, output })))
}

const BY_HAND = '(module processes are started by the Outpost core (outpost run), which hands each its password on fd 3)'

test('issue 10 review: a module started by hand, without the credential fd, exits 125 saying it has no credential', async () => {
  const { OUTPOST_CREDENTIAL_FD: _, ...withoutFd } = ENV
  // node itself has fds of its own at 3 and above (epoll, its signal pipe): without the variable none is read
  assert.deepEqual(await runByHand(['ignore', 'pipe', 'pipe'], undefined, withoutFd), { code: 125, output: `<3>no credential: OUTPOST_CREDENTIAL_FD is not set ${BY_HAND}\n` })
  // the variable copied from a real module's environment, with nothing handed over on that fd
  assert.deepEqual(await runByHand(['ignore', 'pipe', 'pipe'], undefined, { ...ENV, OUTPOST_CREDENTIAL_FD: '900' }), { code: 125, output: `<3>no credential: file descriptor 900 is not open ${BY_HAND}\n` })
})

test('issue 10 review: a file on fd 3 is no credential, and neither is an empty pipe', async () => {
  const devNull = openSync('/dev/null', 'r')
  try {
    assert.deepEqual(await runByHand(['ignore', 'pipe', 'pipe', devNull]), { code: 125, output: `<3>no credential: file descriptor 3 is not a pipe ${BY_HAND}\n` })
  } finally {
    closeSync(devNull)
  }
  assert.deepEqual(await runByHand(['ignore', 'pipe', 'pipe', 'pipe'], ''), { code: 125, output: `<3>no credential: file descriptor 3 held nothing ${BY_HAND}\n` })
})

test('issue 10 review: with a password on fd 3 the SDK gets past reading it (and then fails to connect, as nothing listens)', async () => {
  const { code, output } = await runByHand(['ignore', 'pipe', 'pipe', 'pipe'], 'not-checked-here')
  assert.equal(code, 1)
  assert.doesNotMatch(output, /credential/)
  assert.match(output, /nonexistent/)
})
