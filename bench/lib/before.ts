// The project as it was at an earlier commit, built beside this checkout, so that the cost of a change is
// measured against the code before it in the same run (the machine's drift cancels as for every baseline).
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { installRoot } from '../../core/paths.js'

/**
 * Extracts `ref` (any commit name git knows) into `dir` with `git archive`, links this checkout's
 * node_modules (same dependencies, so only the project's own code differs) and compiles it. Returns the
 * folder, which holds `build/` as an install root does.
 */
export function buildAt (ref: string, dir: string): string {
  let commit: string
  try {
    commit = execFileSync('git', ['-C', installRoot, 'rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch {
    throw new Error(`the baseline commit "${ref}" is not in this repository (a shallow clone lacks it: git fetch --unshallow)`)
  }
  mkdirSync(dir, { recursive: true })
  const tar = execFileSync('git', ['-C', installRoot, 'archive', '--format=tar', commit], { maxBuffer: 256 * 2 ** 20 })
  execFileSync('tar', ['-x', '-C', dir], { input: tar })
  symlinkSync(path.join(installRoot, 'node_modules'), path.join(dir, 'node_modules'))
  execFileSync(process.execPath, [path.join(installRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')], { stdio: ['ignore', 'pipe', 'pipe'] })
  return dir
}
