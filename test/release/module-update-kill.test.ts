// issue 12, module updates cut short: a core run as its own process (`outpost run`) SIGKILLs itself at each
// step of a module update (OUTPOST_UPDATE_CRASH_AT, as a power cut would), is started again, and must run
// the module on a whole program, the old or the new one, and say what became of the update.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { freePort } from '../../bench/lib/stacks.js'
import { verifyModuleFolder } from '../../core/release/module-bundle.js'
import { generateKeys } from '../../core/release/signing.js'
import { MODULE_UPDATE_STEPS } from '../../core/update/checkpoint.js'
import { connectOperator } from '../helpers/gateway.js'
import { bundle, MAIN, moduleFolder } from './module-bundles.js'

const run = promisify(execFile)

interface Core { output: () => string, exited: Promise<NodeJS.Signals | number | null>, stop (): Promise<void> }

describe('module updates cut short by a kill', { timeout: 600_000 }, () => {
  let dir: string
  let manifest: string
  let url: string
  let core: Core | undefined
  const keys = generateKeys()
  const store = (): string => path.join(dir, 'outpost-state', 'modules', 'counter')
  const entry = (): string => (JSON.parse(readFileSync(manifest, 'utf8')) as { modules: Array<{ name: string, entry: string }> }).modules.find(m => m.name === 'counter')?.entry ?? ''
  const stateText = (): string | null => existsSync(path.join(store(), 'update.json')) ? readFileSync(path.join(store(), 'update.json'), 'utf8') : null

  const startCore = (crashAt?: string): Core => {
    const child = spawn(process.execPath, [MAIN, 'run', manifest], { env: { ...process.env, NO_COLOR: '1', ...(crashAt === undefined ? {} : { OUTPOST_UPDATE_CRASH_AT: crashAt }) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', chunk => { output += String(chunk) })
    child.stderr.on('data', chunk => { output += String(chunk) })
    const exited = new Promise<NodeJS.Signals | number | null>(resolve => child.once('exit', (code, signal) => resolve(signal ?? code)))
    return {
      output: () => output,
      exited,
      async stop () {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
        await exited
      },
    }
  }

  /** the counter module's answer once it runs and no update of it is on trial */
  const settled = async (timeoutMs = 90_000): Promise<string> => {
    const until = Date.now() + timeoutMs
    let last: unknown
    while (Date.now() < until) {
      try {
        const op = await connectOperator(url)
        try {
          const answer = await op.call('counter', 'version', null, 2000)
          last = answer
          const trial = (JSON.parse(stateText() ?? '{}') as { state?: string }).state === 'trial'
          if (typeof answer.result === 'string' && !trial) return answer.result
        } finally {
          await op.end()
        }
      } catch (err) {
        last = err
      }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    throw new Error(`counter did not settle within ${timeoutMs} ms: ${String(last)}\n${core?.output().slice(-3000) ?? ''}`)
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-module-kill-'))
    writeFileSync(path.join(dir, 'ops.key'), keys.privatePem, { mode: 0o600 })
    mkdirSync(path.join(dir, 'run'))
    const port = await freePort()
    url = `mqtt://127.0.0.1:${port}`
    manifest = path.join(dir, 'gateway.json')
    writeFileSync(manifest, JSON.stringify({
      gateway: 'module-kill',
      board: 'sim',
      runtimeDir: path.join(dir, 'run'),
      broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port, anonymous: true }] },
      updates: { keys: [keys.publicKey], healthTimeoutMs: 15_000 },
      modules: [{ name: 'counter', entry: path.join(moduleFolder(dir, '1.0.0'), 'index.mjs') }],
    }))
  })

  after(async () => {
    await core?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  let next = 1
  for (const step of MODULE_UPDATE_STEPS) {
    it(`a SIGKILL at "${step}": the module starts on a whole program and the update's outcome is recorded`, { timeout: 180_000 }, async () => {
      core = startCore(step)
      const from = await settled()
      const stateBefore = stateText()
      const broken = step === 'module-rollback-written'
      const to = `1.${next++}.0`
      const file = bundle(dir, moduleFolder(dir, to, broken), 'counter', to, 'ops.key')
      const r = await run(process.execPath, [MAIN, 'update', '--module', 'counter', file, '--url', url]).then(() => 0, (err: { code: number }) => err.code)
      assert.notEqual(r, 0, 'the core died before it answered')
      assert.equal(await core.exited, 'SIGKILL', core.output().slice(-2000))

      core = startCore()
      const expected: Record<string, [string, string | undefined, RegExp?]> = {
        'module-unpacked': [from, undefined],
        'module-trial-written': [from, 'rolled-back', /^the update was cut off before module counter was switched to /],
        'module-switched': [to, 'committed'],
        'module-healthy': [to, 'committed'],
        'module-rollback-written': [from, 'rolled-back', /counter: (backoff|starting|failed) \(last exit: exit-code code 1\)/],
      }
      const [runs, outcome, reason] = expected[step] ?? []
      assert.equal(await settled(), runs)
      if (outcome === undefined) {
        // cut before update.json changed: it still holds the previous update's outcome
        assert.equal(stateText(), stateBefore)
      } else {
        const state = JSON.parse(stateText() ?? '{}') as { state: string, to: string, reason?: string }
        assert.equal(state.state, outcome)
        assert.equal(state.to, to)
        if (reason !== undefined) assert.match(state.reason ?? '', reason)
      }
      // a whole program: the entry is the original file or a version folder that checks against its release.json
      const current = entry()
      assert.ok(existsSync(current), current)
      if (current.startsWith(store())) verifyModuleFolder(path.dirname(current), { module: 'counter', version: runs ?? '' })
      // the staged program is whole under its version's name, or not there at all
      if (existsSync(path.join(store(), to))) verifyModuleFolder(path.join(store(), to), { module: 'counter', version: to })
      await core.stop()
    })
  }
})
