// Node flags from a memory budget: accepted by the running node, and a JavaScript leak under them dies
// with V8's heap error before it spends the budget.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { heapCapMiB, moduleNodeFlags } from '../../core/supervisor/v8-flags.js'

async function run (args: string[]): Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code, signal] = await once(child, 'exit') as [number | null, string | null]
  return { code, signal, stdout, stderr }
}

test('the heap cap leaves room outside the heap, and never drops below what a module needs to start', () => {
  assert.equal(heapCapMiB(64), 42)
  assert.equal(heapCapMiB(256), 186)
  assert.equal(heapCapMiB(16), 12)
  for (const budget of [24, 32, 64, 128, 512]) {
    assert.ok(heapCapMiB(budget) + 8 <= budget, `budget ${budget} MiB: heap ${heapCapMiB(budget)} MiB plus what lives outside it fits`)
  }
  const flags = moduleNodeFlags(64)
  assert.deepEqual(flags, ['--max-old-space-size=42', '--max-semi-space-size=1', '--optimize-for-size', '--v8-pool-size=1'])
  assert.ok(!flags.some(f => f === '--jitless' || f === '--lite-mode'), 'WebAssembly (and so fetch) keeps working')
})

test('the running node accepts the flags, sizes its heap from them, and still has WebAssembly', { timeout: 20_000 }, async () => {
  const probe = 'console.log(JSON.stringify({ limit: require("v8").getHeapStatistics().heap_size_limit, wasm: typeof WebAssembly.instantiate, fetch: typeof fetch }))'
  const result = await run([...moduleNodeFlags(64), '-e', probe])
  assert.equal(result.code, 0, result.stderr)
  const { limit, wasm, fetch } = JSON.parse(result.stdout) as { limit: number, wasm: string, fetch: string }
  const limitMiB = limit / 1024 / 1024
  assert.ok(limitMiB >= 42 && limitMiB < 64, `heap limit ${limitMiB} MiB follows the 42 MiB cap (plus the small new space)`)
  assert.equal(wasm, 'function')
  assert.equal(fetch, 'function')
})

test('a module leaking JavaScript objects under the flags dies of V8\'s heap limit (SIGABRT)', { timeout: 60_000 }, async () => {
  const leak = 'const keep = []; setInterval(() => { for (let i = 0; i < 5000; i++) keep.push({ i, s: "x" + i }) }, 1)'
  const result = await run([...moduleNodeFlags(32), '-e', leak])
  assert.ok(result.signal === 'SIGABRT' || result.code === 134, `died by ${result.signal ?? result.code}`)
  assert.match(result.stderr, /heap/i)
})
