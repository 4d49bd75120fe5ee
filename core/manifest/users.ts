// Modules under their own users: the manifest's `user`, `groups`, `defaults.user` and `moduleGroup`, checked
// and turned into numeric ids in the checker process (the core needs numbers to chown, setpriv takes them).
// A module may have its own user only where the core can act on it: change to that user (CAP_SETUID,
// CAP_SETGID), signal its processes (CAP_KILL) and hand it its config file (CAP_CHOWN) — root has all four.
// Names are looked up with getent, so every source the system's NSS knows counts, as for setpriv.
import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { onPath } from '../modules/parent-death.js'
import type { Problem } from './errors.js'
import type { Manifest, ModuleSpec } from './schema.js'

/** the ids a module process runs with */
export interface RunAs {
  user: string
  uid: number
  gid: number
  /** supplementary groups: `moduleGroup`, then the module's `groups` */
  groups: number[]
}

/** the capabilities the core needs for modules under their own users, by bit (linux/capability.h) */
export const NEEDED_CAPABILITIES: ReadonlyArray<[string, number]> = [['CAP_CHOWN', 0], ['CAP_KILL', 5], ['CAP_SETGID', 6], ['CAP_SETUID', 7]]

/** the capabilities of NEEDED_CAPABILITIES missing from a /proc/<pid>/status text's effective set */
export function missingCapabilities (status: string): string[] {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'
  const effective = BigInt(`0x${hex}`)
  return NEEDED_CAPABILITIES.filter(([, bit]) => (effective & (1n << BigInt(bit))) === 0n).map(([name]) => name)
}

function getent (database: 'passwd' | 'group', name: string): string[] | undefined {
  const result = spawnSync('getent', [database, name], { encoding: 'utf8' })
  if (result.status !== 0) return undefined
  return result.stdout.split('\n')[0]?.split(':')
}

export function userOf (spec: Pick<ModuleSpec, 'user'>, manifest: Pick<Manifest, 'defaults'>): string | undefined {
  return spec.user ?? manifest.defaults.user
}

export interface Users {
  problems: Problem[]
  /** by module name, for the modules that have a user */
  runAs: Map<string, RunAs>
  /** `moduleGroup`'s id, when the manifest names one */
  moduleGid?: number
}

/** checks the users and groups the manifest names, and that the core can run modules as them */
export function checkUsers (manifest: Manifest, file: string, status = (): string => readFileSync('/proc/self/status', 'utf8')): Users {
  const problems: Problem[] = []
  const runAs = new Map<string, RunAs>()
  const groupId = (name: string, where: string): number | undefined => {
    const entry = getent('group', name)
    const gid = Number(entry?.[2])
    if (entry === undefined || !Number.isInteger(gid)) problems.push({ path: where, message: `no group "${name}" on this system` })
    else if (gid === 0) problems.push({ path: where, message: `group "${name}" is gid 0, the root group: a module must not have it` })
    else return gid
    return undefined
  }
  const moduleGid = manifest.moduleGroup === undefined ? undefined : groupId(manifest.moduleGroup, 'moduleGroup')

  const withUser = manifest.modules.map((spec, i) => ({ spec, i, user: userOf(spec, manifest) }))
  for (const { spec, i, user } of withUser) {
    if (user === undefined && spec.groups !== undefined) problems.push({ path: `modules[${i}] (${spec.name}).groups`, message: 'supplementary groups need a "user" (or defaults.user): a module under the core\'s own user has the core\'s groups' })
  }
  const users = withUser.filter(m => m.user !== undefined)
  if (users.length === 0) return moduleGid === undefined ? { problems, runAs } : { problems, runAs, moduleGid }

  // what the core lacks to run any of them: said once per module, each at its own path
  const missing = missingCapabilities(status())
  const lacks = [
    ...(missing.length === 0 ? [] : [`the core cannot run a module as another user: it runs as uid ${process.geteuid?.() ?? '?'} without ${missing.join(', ')} (run it as root, or give it these capabilities: docs/deploy.md)`]),
    ...(onPath('setpriv') ? [] : ['util-linux setpriv, which changes a module\'s user, is not on the PATH']),
  ]
  if (manifest.moduleGroup === undefined) {
    problems.push({ path: 'moduleGroup', message: `modules ${users.map(m => m.spec.name).join(', ')} run under their own users: name the group they share (moduleGroup), which gets the runtime folder and the module socket` })
  }
  for (const { spec, i, user } of users) {
    const where = `modules[${i}] (${spec.name}).${spec.user === undefined ? 'user (from defaults.user)' : 'user'}`
    for (const why of lacks) problems.push({ path: where, message: `module ${spec.name} runs as user "${user}", but ${why}` })
    const entry = getent('passwd', user ?? '')
    const uid = Number(entry?.[2])
    const gid = Number(entry?.[3])
    if (entry === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) {
      problems.push({ path: where, message: `module ${spec.name}: no user "${user}" on this system (useradd --system ${user})` })
      continue
    }
    if (uid === 0) {
      problems.push({ path: where, message: `module ${spec.name}: user "${user}" is uid 0 (root): leave "user" out to run a module as the core's own user` })
      continue
    }
    const groups = (spec.groups ?? []).map((g, j) => groupId(g, `modules[${i}] (${spec.name}).groups[${j}]`))
    if (moduleGid === undefined || groups.some(g => g === undefined)) continue
    runAs.set(spec.name, { user: user ?? '', uid, gid, groups: [...new Set([moduleGid, ...groups as number[]])] })
  }
  problems.push(...manifestExposure(file, moduleGid))
  return moduleGid === undefined ? { problems, runAs } : { problems, runAs, moduleGid }
}

/**
 * A module under its own user must not read the manifest (operators' password hashes, every module's config)
 * nor replace it: the file may not be readable or writable by others (nor by the module group), its folder
 * not writable by them.
 */
function manifestExposure (file: string, moduleGid: number | undefined): Problem[] {
  const problems: Problem[] = []
  try {
    const stat = statSync(file)
    const open = (stat.mode & 0o006) !== 0 || (stat.gid === moduleGid && (stat.mode & 0o060) !== 0)
    if (open) problems.push({ path: '(top level)', message: `the manifest ${file} can be read or written by module users (mode ${(stat.mode & 0o777).toString(8)}), and modules run under their own users: chmod o-rwx ${file}` })
    const dir = statSync(path.dirname(file))
    if ((dir.mode & 0o002) !== 0 || (dir.gid === moduleGid && (dir.mode & 0o020) !== 0)) {
      problems.push({ path: '(top level)', message: `the manifest's folder ${path.dirname(file)} can be written by module users (mode ${(dir.mode & 0o777).toString(8)}), so they could replace the manifest: chmod o-w,g-w it` })
    }
  } catch {
    // a manifest checked before it is written (a management change) has the mode of the one it replaces
  }
  return problems
}
