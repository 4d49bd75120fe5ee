// The legacy sysfs backend (/sys/class/gpio), for kernels without the gpiod tools. Line numbers are the
// chip's base (read from gpiochip*/label and base: 512 and up on current kernels, never assume 0) plus the
// offset. Edges would need poll(2) on the value file, which Node cannot do: inputs are re-read every
// `pollMs` instead, so an edge is seen up to pollMs late and a pulse shorter than that can be missed.
import { constants, existsSync } from 'node:fs'
import { access, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { LineRef } from '../../../core/boards/lines.js'
import { OutpostError } from '../../../core/errors.js'
import type { Level, RawLine, RawRequest } from './types.js'

const EXPORT_TIMEOUT_MS = 5000
const EXPORT_POLL_MS = 10

async function chipBase (root: string, ref: LineRef): Promise<number> {
  const found: string[] = []
  let entries: string[]
  try {
    entries = (await readdir(root)).filter(e => e.startsWith('gpiochip'))
  } catch (err) {
    throw new OutpostError('GPIO_BACKEND', `cannot read ${root}: the kernel has no sysfs GPIO interface (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err })
  }
  for (const entry of entries) {
    const label = (await readFile(path.join(root, entry, 'label'), 'utf8')).trim()
    found.push(`${entry} [${label}]`)
    if (label !== ref.chipLabel) continue
    const base = Number((await readFile(path.join(root, entry, 'base'), 'utf8')).trim())
    const lines = Number((await readFile(path.join(root, entry, 'ngpio'), 'utf8')).trim())
    if (ref.offset >= lines) throw new OutpostError('GPIO_BACKEND', `line ${ref.name} is offset ${ref.offset}, but ${entry} [${label}] has ${lines} lines`)
    return base
  }
  throw new OutpostError('GPIO_CHIP_NOT_FOUND', `no GPIO chip labelled "${ref.chipLabel}" for line ${ref.name} in ${root} (found: ${found.join(', ') || 'none'})`, { details: { label: ref.chipLabel } })
}

/** After export the kernel creates gpioN/; udev may take a moment more to make it writable for our group. */
async function exported (valueFile: string): Promise<void> {
  for (let waited = 0; ; waited += EXPORT_POLL_MS) {
    try {
      await access(valueFile, constants.R_OK | constants.W_OK)
      return
    } catch (err) {
      if (waited >= EXPORT_TIMEOUT_MS) throw new OutpostError('GPIO_BACKEND', `${valueFile} did not become writable within ${EXPORT_TIMEOUT_MS} ms after export`, { cause: err })
    }
    await new Promise(resolve => setTimeout(resolve, EXPORT_POLL_MS))
  }
}

export async function openSysfs (ref: LineRef, request: RawRequest, root: string, pollMs: number): Promise<RawLine> {
  if (request.bias !== 'as-is') throw new OutpostError('GPIO_BACKEND', `line ${ref.name}: the sysfs GPIO interface cannot set bias "${request.bias}"; use a pull resistor or the cdev backend`)
  const number = await chipBase(root, ref) + ref.offset
  const dir = path.join(root, `gpio${number}`)
  const file = (name: string): string => path.join(dir, name)
  const put = async (target: string, value: string): Promise<void> => {
    try {
      await writeFile(target, value)
    } catch (err) {
      throw new OutpostError('GPIO_BACKEND', `cannot write "${value}" to ${target} (line ${ref.name}): ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err })
    }
  }
  // a line left exported (by a driver that crashed) is taken over rather than refused
  if (!existsSync(dir)) await put(path.join(root, 'export'), String(number))
  await exported(file('value'))
  // active-low is applied in the layer: the value file carries physical levels
  await put(file('active_low'), '0')
  // "high"/"low" set the direction and the first level in one step, without a glitch
  await put(file('direction'), request.direction === 'input' ? 'in' : request.initial === 1 ? 'high' : 'low')

  const read = async (): Promise<Level> => ((await readFile(file('value'), 'utf8')).trim() === '1' ? 1 : 0)
  let timer: NodeJS.Timeout | undefined
  const onChange = request.onChange
  if (onChange !== undefined) {
    let last = await read()
    let reading = false
    timer = setInterval(() => {
      if (reading) return
      reading = true
      read().then(level => {
        if (level !== last) {
          last = level
          onChange(level, process.hrtime.bigint())
        }
      }, err => request.onError(err as Error)).finally(() => { reading = false })
    }, pollMs)
  }
  return {
    read,
    async write (level) { await put(file('value'), String(level)) },
    async close () {
      clearInterval(timer)
      // already unexported (by hand, or a kernel that dropped it) is as good as done
      await writeFile(path.join(root, 'unexport'), String(number)).catch(() => {})
    },
  }
}
