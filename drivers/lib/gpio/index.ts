// Opening a GPIO line by name on the gateway's board (docs/gpio.md). Active-low, edge filtering, debounce
// and the safe state at close are applied here, once, for every backend; backends only move physical levels.
import { findLine, lookupLine } from '../../../core/boards/lines.js'
import type { Board } from '../../../core/boards/schema.js'
import { OutpostError } from '../../../core/errors.js'
import { createDebouncer } from './debounce.js'
import type { Debouncer } from './debounce.js'
import { openGpiod } from './gpiod.js'
import { openSim } from './sim.js'
import { openSysfs } from './sysfs.js'
import type { Edge, GpioLine, Level, LineOptions, RawLine, RawRequest, Target } from './types.js'

export type { Bias, Edge, GpioLine, Level, LineOptions } from './types.js'
export { simLinePath, simRead, simWrite } from './sim.js'

function targetOf (board: Board, name: string): Target {
  const declared = lookupLine(board, name)
  if (declared !== undefined) return declared
  if (board.gpio.kernelLineNames) return { kernelName: name, name }
  return findLine(board, name)
}

function checkOptions (name: string, options: LineOptions): void {
  const input = options.direction === 'input'
  if (options.direction !== 'input' && options.direction !== 'output') throw new OutpostError('GPIO_DIRECTION', `line ${name}: direction must be "input" or "output", not ${JSON.stringify(options.direction)}`)
  if (!input && (options.edge ?? 'none') !== 'none') throw new OutpostError('GPIO_DIRECTION', `line ${name}: edges are watched on inputs, not outputs`)
  if (!input && options.debounceMs !== undefined) throw new OutpostError('GPIO_DIRECTION', `line ${name}: debounce applies to inputs, not outputs`)
  if (input && options.initial !== undefined) throw new OutpostError('GPIO_DIRECTION', `line ${name}: an input has no initial value`)
}

async function openBackend (board: Board, request: RawRequest, options: LineOptions): Promise<RawLine> {
  const { target } = request
  const declared = (): Extract<Target, { chipLabel: string }> => {
    if ('kernelName' in target) throw new OutpostError('GPIO_BACKEND', `board ${board.name}: the ${board.gpio.backend} backend cannot look lines up by kernel name`)
    return target
  }
  switch (board.gpio.backend) {
    case 'sim':
      if (options.simRoot === undefined) throw new OutpostError('GPIO_BACKEND', `board ${board.name} is simulated but no simulation root was given (OUTPOST_SIM_ROOT)`)
      return openSim(declared(), request, options.simRoot, options.pollMs ?? 200)
    case 'sysfs':
      return openSysfs(declared(), request, options.sysfsRoot ?? '/sys/class/gpio', options.pollMs ?? 20)
    case 'cdev':
      return openGpiod(request, options.gpiodBin)
  }
}

export async function openLine (board: Board, lineName: string, options: LineOptions): Promise<GpioLine> {
  checkOptions(lineName, options)
  const target = targetOf(board, lineName)
  const name = target.name
  const input = options.direction === 'input'
  const edge = input ? options.edge ?? 'both' : 'none'
  const invert = (v: Level): Level => (options.activeLow === true ? (v === 1 ? 0 : 1) : v)
  const safe = options.initial ?? 0
  const handlers = new Set<(edge: Edge) => void>()
  let debouncer: Debouncer | undefined
  const raw = await openBackend(board, {
    target,
    direction: options.direction,
    bias: options.bias ?? 'as-is',
    initial: invert(safe),
    onChange: edge === 'none' ? undefined : (level, timestampNs) => debouncer?.push(invert(level), timestampNs),
    onError: options.onError ?? (err => { process.nextTick(() => { throw err }) }),
  }, options)

  if (edge !== 'none') {
    let initial: Level
    try {
      initial = invert(await raw.read())
    } catch (err) {
      await raw.close()
      throw err
    }
    debouncer = createDebouncer(options.debounceMs ?? 0, initial, (value, timestampNs) => {
      if (edge === 'rising' && value === 0) return
      if (edge === 'falling' && value === 1) return
      const event: Edge = { value, edge: value === 1 ? 'rising' : 'falling', timestampNs }
      for (const handler of handlers) handler(event)
    })
  }

  // writes and close run one at a time, in order (a cdev write restarts a child)
  let queue: Promise<unknown> = Promise.resolve()
  const inOrder = <T>(step: () => Promise<T>): Promise<T> => {
    const result = queue.then(step)
    queue = result.catch(() => {})
    return result
  }
  let closing: Promise<void> | undefined
  const open = (): void => {
    if (closing !== undefined) throw new OutpostError('GPIO_BACKEND', `line ${name} is closed`)
  }

  return {
    name,
    async read () {
      open()
      return invert(await raw.read())
    },
    async write (value) {
      if (input) throw new OutpostError('GPIO_DIRECTION', `line ${name} is an input; it cannot be written`)
      open()
      return inOrder(() => raw.write(invert(value)))
    },
    watch (handler) {
      if (edge === 'none') throw new OutpostError('GPIO_DIRECTION', `line ${name} was opened ${input ? 'with edge "none"' : 'as an output'}: it has no edges to watch`)
      open()
      handlers.add(handler)
      return () => { handlers.delete(handler) }
    },
    close () {
      closing ??= inOrder(async () => {
        debouncer?.stop()
        handlers.clear()
        try {
          // outputs go back to their declared safe state when the driver stops
          if (!input) await raw.write(invert(safe))
        } finally {
          await raw.close()
        }
      })
      return closing
    },
  }
}
