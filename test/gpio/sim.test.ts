// The sim backend across processes: a child process drives an output, this process reads it and watches it
// as an input, with active-low and debounce applied by the layer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { loadBoard } from '../../core/boards/load.js'
import { openLine, simRead, simWrite } from '../../drivers/lib/gpio/index.js'
import type { Edge, GpioLine } from '../../drivers/lib/gpio/index.js'
import { waitFor } from '../helpers/wait.js'

const sim = loadBoard('sim')
const TIMEOUT = { timeout: 20_000 }

/** A temp simulation root; lines handed to `keep` are closed before it is removed (closing writes to it). */
function simRoot (t: { after: (fn: () => Promise<void>) => void }): { root: string, keep: (line: GpioLine) => GpioLine } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'outpost-simgpio-'))
  const lines: GpioLine[] = []
  t.after(async () => {
    await Promise.allSettled(lines.map(line => line.close()))
    rmSync(root, { recursive: true, force: true })
  })
  return { root, keep: line => { lines.push(line); return line } }
}

/** A separate process holding one output line; it obeys "1", "0" and "close" on stdin and answers each. */
async function outputProcess (t: { after: (fn: () => void) => void }, root: string, line: string, options: Record<string, unknown>): Promise<(command: string) => Promise<string>> {
  const lib = new URL('../../drivers/lib/gpio/index.js', import.meta.url).href
  const boards = new URL('../../core/boards/load.js', import.meta.url).href
  const code = `
    import { createInterface } from 'node:readline'
    import { openLine } from ${JSON.stringify(lib)}
    import { loadBoard } from ${JSON.stringify(boards)}
    const line = await openLine(loadBoard('sim'), ${JSON.stringify(line)}, { direction: 'output', simRoot: ${JSON.stringify(root)}, ...${JSON.stringify(options)} })
    console.log('ready')
    for await (const command of createInterface({ input: process.stdin })) {
      if (command === 'close') { await line.close(); console.log('closed'); break }
      await line.write(Number(command))
      console.log('wrote ' + command)
    }
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { child.kill('SIGKILL') })
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<string> => {
    const answer = await answers.next()
    if (answer.done === true) throw new Error('the output process ended')
    return answer.value
  }
  assert.equal(await next(), 'ready')
  return async command => {
    child.stdin.write(`${command}\n`)
    return next()
  }
}

test('an output driven by another process: active-low at open, on write, and the safe state at close', TIMEOUT, async (t) => {
  const { root } = simRoot(t)
  const send = await outputProcess(t, root, 'pin11', { activeLow: true, initial: 0 })
  assert.equal(simRead(root, 'sim-gpio', 17), 1, 'safe logical 0 on an active-low line is physical 1')
  assert.equal(await send('1'), 'wrote 1')
  assert.equal(simRead(root, 'sim-gpio', 17), 0)
  assert.equal(await send('0'), 'wrote 0')
  assert.equal(simRead(root, 'sim-gpio', 17), 1)
  assert.equal(await send('1'), 'wrote 1')
  assert.equal(await send('close'), 'closed')
  assert.equal(simRead(root, 'sim-gpio', 17), 1, 'back to the safe state')
})

test('an input watching another process\'s output: debounced logical edges, active-low applied', TIMEOUT, async (t) => {
  const { root, keep } = simRoot(t)
  const send = await outputProcess(t, root, 'GPIO22', { initial: 0 })
  const input = keep(await openLine(sim, 'pin15', { direction: 'input', activeLow: true, debounceMs: 30, simRoot: root }))
  assert.equal(await input.read(), 1, 'physical 0 is logical 1 when active-low')
  const edges: Edge[] = []
  input.watch(e => edges.push(e))
  await send('1')
  await waitFor('the falling edge', () => edges.length >= 1)
  await send('0')
  await waitFor('the rising edge', () => edges.length >= 2)
  assert.deepEqual(edges.map(e => [e.edge, e.value]), [['falling', 0], ['rising', 1]])
  assert.ok(typeof edges[0]?.timestampNs === 'bigint' && (edges[1]?.timestampNs ?? 0n) > (edges[0]?.timestampNs ?? 0n))
  assert.equal(await input.read(), 1)
})

test('an input reports only the edges asked for, and stops at close', TIMEOUT, async (t) => {
  const { root, keep } = simRoot(t)
  const input = keep(await openLine(sim, 'GPIO5', { direction: 'input', edge: 'rising', simRoot: root }))
  // a second view of the same simulated line, to know when each level has been seen
  const observer = keep(await openLine(sim, 'GPIO5', { direction: 'input', simRoot: root }))
  const values: number[] = []
  const seen: number[] = []
  const unsubscribe = input.watch(e => values.push(e.value))
  observer.watch(e => seen.push(e.value))
  for (const level of [1, 0, 1] as const) {
    simWrite(root, 'sim-gpio', 5, level)
    await waitFor(`level ${level}`, () => seen.at(-1) === level)
  }
  await waitFor('two rising edges', () => values.length >= 2)
  assert.deepEqual(values, [1, 1])
  assert.deepEqual(seen, [1, 0, 1])
  unsubscribe()
  await Promise.all([input.close(), input.close()])
  await assert.rejects(input.read(), { code: 'GPIO_BACKEND', message: 'line GPIO5 is closed' })
})

test('misuse is refused with the line named', TIMEOUT, async (t) => {
  const { root, keep } = simRoot(t)
  const input = keep(await openLine(sim, 'GPIO6', { direction: 'input', simRoot: root }))
  await assert.rejects(input.write(1), { code: 'GPIO_DIRECTION', message: 'line GPIO6 is an input; it cannot be written' })
  const output = keep(await openLine(sim, 'GPIO7', { direction: 'output', simRoot: root }))
  assert.throws(() => output.watch(() => {}), { code: 'GPIO_DIRECTION', message: 'line GPIO7 was opened as an output: it has no edges to watch' })
  await assert.rejects(openLine(sim, 'GPIO8', { direction: 'output', edge: 'both', simRoot: root }), { code: 'GPIO_DIRECTION', message: 'line GPIO8: edges are watched on inputs, not outputs' })
  await assert.rejects(openLine(sim, 'GPIO8', { direction: 'input', initial: 1, simRoot: root }), { code: 'GPIO_DIRECTION' })
  await assert.rejects(openLine(sim, 'GPIO8', { direction: 'output' }), { code: 'GPIO_BACKEND', message: 'board sim is simulated but no simulation root was given (OUTPOST_SIM_ROOT)' })
  await assert.rejects(openLine(sim, 'GPIO28', { direction: 'output', simRoot: root }), { code: 'GPIO_LINE_UNKNOWN', message: 'board sim has no GPIO line "GPIO28": did you mean GPIO2, GPIO8, GPIO18, GPIO20, GPIO21?' })
})
