// The simulated GPIO backend (the `sim` board): one file per line, <simRoot>/gpio/<chip label>/<offset>,
// holding the physical level ("0" or "1"), so separate processes (drivers, a simulated plant, tests) share
// it. Writers replace the file atomically (temp file + rename), so a reader never sees half a write.
// Inputs watch the chip directory with inotify (fs.watch) and re-read on a timer to catch anything missed;
// changes faster than a read can see collapse into one.
import { mkdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { LineRef } from '../../../core/boards/lines.js'
import type { Level, RawLine, RawRequest } from './types.js'

export function simLinePath (simRoot: string, chipLabel: string, offset: number): string {
  return path.join(simRoot, 'gpio', chipLabel, String(offset))
}

function readLevel (file: string): Level | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim()
    return text === '1' ? 1 : text === '0' ? 0 : undefined
  } catch {
    return undefined
  }
}

/** The physical level of a simulated line; a line nobody has written yet is low. */
export function simRead (simRoot: string, chipLabel: string, offset: number): Level {
  return readLevel(simLinePath(simRoot, chipLabel, offset)) ?? 0
}

export function simWrite (simRoot: string, chipLabel: string, offset: number, level: Level): void {
  const file = simLinePath(simRoot, chipLabel, offset)
  mkdirSync(path.dirname(file), { recursive: true })
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, `${level}\n`)
  renameSync(temp, file)
}

export async function openSim (ref: LineRef, request: RawRequest, simRoot: string, rescanMs: number): Promise<RawLine> {
  const file = simLinePath(simRoot, ref.chipLabel, ref.offset)
  mkdirSync(path.dirname(file), { recursive: true })
  if (request.direction === 'output') simWrite(simRoot, ref.chipLabel, ref.offset, request.initial)
  const read = async (): Promise<Level> => simRead(simRoot, ref.chipLabel, ref.offset)
  let stop = (): void => {}
  const onChange = request.onChange
  if (onChange !== undefined) {
    let last = simRead(simRoot, ref.chipLabel, ref.offset)
    const check = (): void => {
      const level = readLevel(file)
      if (level === undefined || level === last) return
      last = level
      onChange(level, process.hrtime.bigint())
    }
    const watcher = watch(path.dirname(file), (_event, name) => { if (name === String(ref.offset)) check() })
    watcher.on('error', err => request.onError(err))
    const timer = setInterval(check, rescanMs)
    stop = () => {
      watcher.close()
      clearInterval(timer)
    }
  }
  return {
    read,
    async write (level) { simWrite(simRoot, ref.chipLabel, ref.offset, level) },
    async close () { stop() },
  }
}
