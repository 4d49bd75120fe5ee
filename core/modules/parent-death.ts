// A module must die with its core, whatever its language: a core killed by SIGKILL or the OOM killer runs
// no cleanup. Node has no prctl(PR_SET_PDEATHSIG), so the module's argv starts with util-linux `setpriv
// --pdeathsig KILL --`, which sets it and execs the program in place (same PID). The kernel sends the
// signal when the *thread* that forked the process exits: libuv forks from the core's main thread, which
// lives as long as the core. The setting survives exec, but not the exec of a setuid program, and a
// module's own children do not inherit it (they are cleared with the module's cgroup, or its measured
// tree: docs/supervision.md).
import { accessSync, constants } from 'node:fs'
import path from 'node:path'

export function onPath (program: string, searchPath = process.env.PATH ?? ''): boolean {
  return searchPath.split(path.delimiter).some(dir => {
    try {
      accessSync(path.join(dir, program), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

let prefix: string[] | undefined

/** the argv prefix that gives a module SIGKILL when its core dies; empty where setpriv is missing */
export function parentDeathPrefix (): string[] {
  prefix ??= onPath('setpriv') ? ['setpriv', '--pdeathsig', 'KILL', '--'] : []
  return prefix
}
