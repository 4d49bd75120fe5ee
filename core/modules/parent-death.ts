// A module must die with its core, whatever its language: a core killed by SIGKILL or the OOM killer runs
// no cleanup. Node has no prctl(PR_SET_PDEATHSIG), so the module's argv starts with util-linux `setpriv
// --pdeathsig KILL --`, which sets it and execs the program in place (same PID). The kernel sends the
// signal when the *thread* that forked the process exits: libuv forks from the core's main thread, which
// lives as long as the core. The setting survives exec, but not the exec of a setuid program, and a
// module's own children do not inherit it (they are cleared with the module's cgroup, or its measured
// tree: docs/supervision.md).
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import type { RunAs } from '../manifest/users.js'

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

let setpriv: boolean | undefined

/**
 * The argv prefix that gives a module SIGKILL when its core dies and, with `runAs`, its own user and groups
 * (setpriv sets the parent-death signal after changing user, which would clear it). The inheritable and
 * ambient capabilities are dropped for every module: a core given CAP_SETUID and the like as ambient
 * capabilities (docs/deploy.md) would otherwise pass them on. Empty where setpriv is missing (the manifest
 * check refuses `user` there).
 */
export function setprivPrefix (runAs?: RunAs): string[] {
  setpriv ??= onPath('setpriv')
  if (!setpriv) return []
  const user = runAs === undefined
    ? []
    : ['--reuid', String(runAs.uid), '--regid', String(runAs.gid), runAs.groups.length === 0 ? '--clear-groups' : `--groups=${runAs.groups.join(',')}`]
  return ['setpriv', '--pdeathsig', 'KILL', ...user, '--inh-caps=-all', '--ambient-caps=-all', '--']
}
