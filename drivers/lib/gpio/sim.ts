// The simulated GPIO backend used by the `sim` board: one file per line under
// <simRoot>/gpio/<chip label>/<offset> holding the physical level, so separate processes (drivers, a
// simulated plant, tests) share it. Inputs watch their file with inotify (fs.watch).
import { mkdirSync, readFileSync, writeFileSync, watch } from 'node:fs'
import path from 'node:path'
import type { Level } from './types.js'

export function simLinePath (simRoot: string, chipLabel: string, offset: number): string {
  return path.join(simRoot, 'gpio', chipLabel, String(offset))
}

export function simRead (simRoot: string, chipLabel: string, offset: number): Level {
  try {
    return readFileSync(simLinePath(simRoot, chipLabel, offset), 'utf8').trim() === '1' ? 1 : 0
  } catch {
    return 0
  }
}

export function simWrite (simRoot: string, chipLabel: string, offset: number, level: Level): void {
  const file = simLinePath(simRoot, chipLabel, offset)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, `${level}\n`)
}

/** Calls back with the physical level whenever the line's file changes; returns a stop function. */
export function simWatch (simRoot: string, chipLabel: string, offset: number, onLevel: (level: Level) => void): () => void {
  const file = simLinePath(simRoot, chipLabel, offset)
  if (!readFileSafe(file)) simWrite(simRoot, chipLabel, offset, 0)
  const watcher = watch(file, () => onLevel(simRead(simRoot, chipLabel, offset)))
  return () => watcher.close()
}

function readFileSafe (file: string): boolean {
  try {
    readFileSync(file)
    return true
  } catch {
    return false
  }
}
