// issue 10 F1: the core's own stdout, when it is a pipe whose reader stalls (journald, docker), holds at most
// MAX_STDOUT_PENDING_BYTES; the lines past it are dropped, counted, and said once the reader catches up.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MAX_STDOUT_PENDING_BYTES } from '../../core/log.js'

test('issue 10 F1: a core log flood into an unread stdout pipe is dropped and counted, not queued', async () => {
  const script = fileURLToPath(new URL('../fixtures/core/stdout-flood.js', import.meta.url))
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let report = ''
  child.stderr.on('data', chunk => { report += chunk })
  // stdout is read only once the flood is over and reported
  await new Promise<void>(resolve => child.stderr.once('data', () => resolve()))
  let out = ''
  child.stdout.on('data', chunk => { out += chunk })
  await new Promise(resolve => child.once('close', resolve))
  const { dropped, pendingPeak, rssAnon } = JSON.parse(report) as { dropped: number, pendingPeak: number, rssAnon: number }
  assert.ok(pendingPeak <= MAX_STDOUT_PENDING_BYTES + 300, `held ${pendingPeak} bytes for stdout`)
  assert.ok(rssAnon < 96 * 1024 * 1024, `RssAnon ${rssAnon} (40 MB were logged)`)
  const lines = out.trimEnd().split('\n')
  assert.equal(lines.length + dropped, 200_000 + 2, 'every line is either written or counted')
  assert.ok(dropped > 150_000, `${dropped} dropped`)
  assert.match(lines.at(-2) ?? '', new RegExp(`^${dropped} log line\\(s\\) dropped: stdout was not read fast enough$`))
  assert.match(lines.at(-1) ?? '', /after the flood$/)
})
