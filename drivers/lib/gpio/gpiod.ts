// The character-device backend, through the Debian gpiod tools (no npm binding is maintained, prebuilt and
// delivers edge events; docs/gpio.md). Chips are found by label, never by number. An input with edges is
// one long-running gpiomon streaming kernel-timestamped events, and its level is tracked from them (the
// kernel gives a requested line to one holder, so gpioget cannot read it meanwhile). An output is one
// long-running gpioset holding the value; a new value restarts it.
import path from 'node:path'
import { OutpostError } from '../../../core/errors.js'
import { run, spawnHeld } from './children.js'
import type { Held } from './children.js'
import { getArgs, monitorArgs, parseChips, parseEvent, parseFound, parseLineUse, parseVersion, setArgs } from './gpiod-text.js'
import type { GpiodVersion } from './gpiod-text.js'
import type { Level, RawLine, RawRequest, Target } from './types.js'

const READY_TIMEOUT_MS = 5000
const READY_POLL_MS = 10

interface Tools {
  path (tool: string): string
  version: GpiodVersion
}

async function toolsIn (bin: string | undefined): Promise<Tools> {
  const toolPath = (tool: string): string => (bin === undefined ? tool : path.join(bin, tool))
  const text = await run(toolPath('gpiodetect'), ['--version'])
  const version = parseVersion(text)
  if (version === undefined) throw new OutpostError('GPIO_BACKEND', `cannot tell the gpiod tools' version from "${text.split('\n')[0] ?? ''}"`)
  return { path: toolPath, version }
}

async function locate (tools: Tools, target: Target): Promise<{ chip: string, offset: number }> {
  if ('kernelName' in target) {
    const args = tools.version === 1 ? ['gpiofind', target.kernelName] : ['gpioinfo', target.kernelName]
    const found = await run(tools.path(args[0] ?? ''), args.slice(1)).then(parseFound, () => undefined)
    if (found === undefined) throw new OutpostError('GPIO_LINE_UNKNOWN', `no GPIO line named "${target.kernelName}" on this machine (the board looks lines up by kernel name: see gpioinfo)`, { details: { line: target.kernelName } })
    return found
  }
  const { chips, denied } = parseChips(await run(tools.path('gpiodetect'), []))
  const chip = chips.find(c => c.label === target.chipLabel)
  if (chip === undefined) {
    const have = chips.map(c => `${c.name} [${c.label}]`).join(', ') || 'none'
    const hint = denied.length > 0 ? `; no permission to open ${denied.join(', ')} (add the service user to the gpio group)` : ''
    throw new OutpostError('GPIO_CHIP_NOT_FOUND', `no GPIO chip labelled "${target.chipLabel}" for line ${target.name} (this machine has: ${have}${hint})`, { details: { label: target.chipLabel, chips, denied } })
  }
  if (target.offset >= chip.lines) throw new OutpostError('GPIO_BACKEND', `line ${target.name} is offset ${target.offset}, but ${chip.name} [${chip.label}] has ${chip.lines} lines`)
  return { chip: chip.name, offset: target.offset }
}

/**
 * Resolves once the child holds the line: v2 prints a banner; v1 prints nothing, so its line is looked up
 * in gpioinfo until the tool shows as its consumer. Rejects if the child exits first.
 */
async function ready (tools: Tools, held: Held, banner: Promise<void>, chip: string, offset: number, consumer: string, what: string): Promise<void> {
  let settled = false
  let timer: NodeJS.Timeout | undefined
  const failed = new Promise<never>((_resolve, reject) => {
    held.exited.then(() => reject(new OutpostError('GPIO_BACKEND', `${what} could not hold the line: ${held.stderr() || 'it exited at once'}`, { details: { stderr: held.stderr() } })))
    timer = setTimeout(() => reject(new OutpostError('GPIO_BACKEND', `${what} did not take the line within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)
  })
  const polling = tools.version === 2
    ? undefined
    : (async () => {
        while (!settled) {
          if (parseLineUse(await run(tools.path('gpioinfo'), [chip]), offset)?.consumer === consumer) return
          await new Promise(resolve => setTimeout(resolve, READY_POLL_MS))
        }
      })()
  try {
    await Promise.race([polling ?? banner, failed])
  } finally {
    settled = true
    clearTimeout(timer)
    // no gpioinfo poll may still be running once opening has settled
    await polling?.catch(() => {})
  }
}

export async function openGpiod (request: RawRequest, bin: string | undefined): Promise<RawLine> {
  const tools = await toolsIn(bin)
  const { chip, offset } = await locate(tools, request.target)
  const name = request.target.name
  const get = async (): Promise<Level> => ((await run(tools.path('gpioget'), getArgs(tools.version, chip, offset, request.bias))).trim() === '1' ? 1 : 0)

  const hold = async (tool: 'gpioset' | 'gpiomon', args: string[], onEvent: (line: string) => void): Promise<Held> => {
    let bannerSeen: () => void = () => {}
    const banner = new Promise<void>(resolve => { bannerSeen = resolve })
    let first = true
    const held = spawnHeld(tools.path(tool), args, line => {
      if (first && tools.version === 2) bannerSeen()
      first = false
      onEvent(line)
    })
    try {
      await ready(tools, held, banner, chip, offset, tool, `${tool} for ${name} (${chip} ${offset})`)
    } catch (err) {
      await held.stop()
      throw err
    }
    return held
  }

  const onChange = request.onChange
  if (request.direction === 'input' && onChange !== undefined) {
    // the level before monitoring starts; from then on every edge updates it
    let level = await get()
    let closing = false
    const monitor = await hold('gpiomon', monitorArgs(tools.version, chip, offset, request.bias), line => {
      const event = parseEvent(tools.version, line)
      if (event === undefined || event.offset !== offset) return
      level = event.level
      onChange(event.level, event.timestampNs)
    })
    monitor.exited.then(({ code, signal }) => {
      if (!closing) request.onError(new OutpostError('GPIO_BACKEND', `gpiomon for ${name} (${chip} ${offset}) stopped (${signal ?? `exit code ${code}`}): ${monitor.stderr() || 'no message'}`))
    })
    return {
      async read () { return level },
      async write () { throw new OutpostError('GPIO_DIRECTION', `line ${name} is an input`) },
      async close () {
        closing = true
        await monitor.stop()
      },
    }
  }

  if (request.direction === 'input') {
    return {
      read: get,
      async write () { throw new OutpostError('GPIO_DIRECTION', `line ${name} is an input`) },
      async close () {},
    }
  }

  let level = request.initial
  let setter: Held | undefined
  const drive = async (next: Level): Promise<void> => {
    const held = await hold('gpioset', setArgs(tools.version, chip, offset, request.bias, next), () => {})
    setter = held
    level = next
    held.exited.then(({ code, signal }) => {
      // a holder that ends while still the current one was not stopped by us: the line is no longer driven
      if (setter !== held) return
      setter = undefined
      request.onError(new OutpostError('GPIO_BACKEND', `gpioset for ${name} (${chip} ${offset}) stopped (${signal ?? `exit code ${code}`}): ${held.stderr() || 'no message'}`))
    })
  }
  const release = async (): Promise<void> => {
    const old = setter
    setter = undefined
    await old?.stop()
  }
  await drive(level)
  return {
    async read () { return level },
    async write (next) {
      if (next === level && setter !== undefined) return
      // the kernel gives a line to one holder: the old gpioset must be gone before the new one asks
      await release()
      await drive(next)
    },
    close: release,
  }
}
