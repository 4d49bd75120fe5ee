// Kernel memory limits: one memory cgroup per module, where the kernel offers one. Past its limit the kernel
// SIGKILLs the module (exit by SIGKILL, nothing on stderr) and counts an oom_kill: a hard stop the userspace
// sampler cannot give, for memory the sampler does not see in time. Where there is no usable memory
// controller (Raspberry Pi OS by default), detection says why in one line and the sampler works alone.
// Module groups nest under the gateway's own cgroup, so a service manager's limit on the gateway still
// covers its modules (docs/supervision.md).
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { OutpostError } from '../errors.js'

export interface CgroupInfo {
  kind: 'v2' | 'v1' | 'none'
  /** one line for the log: what was found, or why there are no kernel limits */
  reason: string
  /** the directory under which module groups go (`<memoryRoot>/outpost/<name>`) */
  memoryRoot?: string
}

export interface DetectOptions {
  /** where cgroup filesystems are mounted */
  root?: string
  /** the text of /proc/self/cgroup (which group the gateway itself is in) */
  self?: string
}

export interface CgroupLimits {
  limitBytes: number
  /** v2 only: above this the kernel reclaims and throttles the group; default 90% of the limit */
  highBytes?: number
}

export interface ModuleCgroup {
  path: string
  /** write a PID here to move that process (and its future children) into the group */
  procsFile: string
  /** how many times the kernel's OOM killer has killed in this group */
  oomKills (): number
  usageBytes (): number
  /** SIGKILLs everything in the group (v2 `cgroup.kill`, v1 every pid of `cgroup.procs`), until it is empty */
  kill (): Promise<void>
  /** kills whatever is still in the group, removes it, then the groups above it that it leaves empty */
  remove (): Promise<void>
}

const RPI_HINT = 'on Raspberry Pi OS add cgroup_enable=memory to /boot/firmware/cmdline.txt and reboot'

const readOr = (file: string, fallback: string): string => {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

const words = (file: string): string[] => readOr(file, '').split(/\s+/).filter(w => w !== '')

function writable (dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** the gateway's own cgroup paths from /proc/self/cgroup: the v2 one and the v1 memory one */
function ownGroups (self: string): { unified?: string, memory?: string } {
  const own: { unified?: string, memory?: string } = {}
  for (const line of self.split('\n')) {
    const [hierarchy, controllers, group] = line.split(':', 3)
    if (group === undefined) continue
    if (hierarchy === '0' && controllers === '') own.unified = group
    else if (controllers?.split(',').includes('memory') === true) own.memory = group
  }
  return own
}

/** the gateway's own group inside a mount, when it is visible there (not inside a container without cgroupns) */
function nested (mount: string, group: string | undefined): string {
  const dir = path.join(mount, group ?? '', '.')
  return dir.startsWith(mount + path.sep) && existsSync(dir) ? dir : mount
}

function detectV2 (mount: string, ownGroup: string | undefined, note = ''): CgroupInfo {
  if (!words(path.join(mount, 'cgroup.controllers')).includes('memory')) {
    return { kind: 'none', reason: `cgroup v2 at ${mount} has no memory controller${note}: memory budgets are enforced by sampling only (${RPI_HINT})` }
  }
  // v2 hands a controller to child groups only from a group with no processes of its own, or from the
  // real root (the only group without cgroup.type; a container's root has one): climb from the gateway's
  // group to the nearest such ancestor (with systemd, Delegate=yes and DelegateSubgroup= make that the
  // service's own group)
  const canHandDown = (dir: string): boolean => words(path.join(dir, 'cgroup.controllers')).includes('memory') &&
    (!existsSync(path.join(dir, 'cgroup.type')) || readOr(path.join(dir, 'cgroup.procs'), 'x').trim() === '')
  let dir = nested(mount, ownGroup)
  while (dir !== mount && !canHandDown(dir)) dir = path.dirname(dir)
  if (!canHandDown(dir)) {
    return { kind: 'none', reason: `cgroup v2 at ${mount}: the gateway's group and its ancestors hold processes, so none can hand the memory controller to module groups; memory budgets are enforced by sampling only (under systemd: Delegate=yes, DelegateSubgroup=)` }
  }
  if (!writable(dir)) return { kind: 'none', reason: `cgroup v2 memory controller at ${dir} is not writable: memory budgets are enforced by sampling only (run as root or delegate the group)` }
  return { kind: 'v2', memoryRoot: dir, reason: `cgroup v2 memory controller: module groups under ${path.join(dir, 'outpost')}${note}` }
}

export function detectCgroups (options: DetectOptions = {}): CgroupInfo {
  const root = path.resolve(options.root ?? '/sys/fs/cgroup')
  const own = ownGroups(options.self ?? readOr('/proc/self/cgroup', ''))
  if (!existsSync(root)) return { kind: 'none', reason: `no cgroup filesystem at ${root}: memory budgets are enforced by sampling only` }
  if (existsSync(path.join(root, 'cgroup.controllers'))) return detectV2(root, own.unified)

  const unified = path.join(root, 'unified')
  const hybrid = existsSync(path.join(unified, 'cgroup.controllers'))
  const v1 = path.join(root, 'memory')
  if (existsSync(path.join(v1, 'memory.limit_in_bytes'))) {
    const dir = nested(v1, own.memory)
    const note = hybrid ? ` (hybrid: cgroup2 at ${unified} has no memory controller)` : ''
    if (!writable(dir)) return { kind: 'none', reason: `cgroup v1 memory controller at ${dir} is not writable${note}: memory budgets are enforced by sampling only (run as root)` }
    return { kind: 'v1', memoryRoot: dir, reason: `cgroup v1 memory controller: module groups under ${path.join(dir, 'outpost')}${note}` }
  }
  if (hybrid) return detectV2(unified, own.unified, ` (hybrid, and no cgroup v1 memory hierarchy at ${v1})`)
  return { kind: 'none', reason: `no memory controller under ${root}: memory budgets are enforced by sampling only (${RPI_HINT})` }
}

const counter = (text: string, key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)

/** v2 passes a controller down one level at a time */
function enableMemory (dir: string): void {
  const file = path.join(dir, 'cgroup.subtree_control')
  if (!words(file).includes('memory')) writeFileSync(file, '+memory')
}

function configureV2 (dir: string, limits: CgroupLimits): void {
  writeFileSync(path.join(dir, 'memory.max'), String(limits.limitBytes))
  // above memory.high the kernel reclaims and throttles: a leaking module slows and memory.events counts
  // "high" before memory.max kills it
  writeFileSync(path.join(dir, 'memory.high'), String(limits.highBytes ?? Math.floor(limits.limitBytes * 0.9)))
  // these exist only with swap accounting (swap.max) and on kernels ≥ 4.19 (oom.group)
  const swap = path.join(dir, 'memory.swap.max')
  if (existsSync(swap)) writeFileSync(swap, '0')
  // an OOM kills the whole module tree at once, not one worker, leaving the rest half-alive
  const group = path.join(dir, 'memory.oom.group')
  if (existsSync(group)) writeFileSync(group, '1')
}

function configureV1 (dir: string, limits: CgroupLimits): void {
  const limitFile = path.join(dir, 'memory.limit_in_bytes')
  const memsw = path.join(dir, 'memory.memsw.limit_in_bytes') // present only with swap accounting
  const hasMemsw = existsSync(memsw)
  // the kernel keeps limit ≤ memsw limit: raise memsw first, lower it last
  const raising = limits.limitBytes > Number(readOr(limitFile, '0'))
  if (hasMemsw && raising) writeFileSync(memsw, String(limits.limitBytes))
  writeFileSync(limitFile, String(limits.limitBytes))
  if (hasMemsw && !raising) writeFileSync(memsw, String(limits.limitBytes))
}

/** a group whose processes are all gone may still be busy for a moment while the kernel tears it down */
const TRIES = 40
const RETRY_MS = 50

const killPid = (pid: number): void => {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs everything in a group, again until it is empty: a process may fork between the read of
 * `cgroup.procs` and the kill, and its child joins the same group. v2 has `cgroup.kill` (Linux ≥ 5.14), which
 * kills the whole subtree at once, forks included.
 */
export async function killGroup (dir: string): Promise<void> {
  const procsFile = path.join(dir, 'cgroup.procs')
  const killFile = path.join(dir, 'cgroup.kill')
  for (let attempt = 0; ; attempt++) {
    const left = words(procsFile).map(Number)
    if (left.length === 0) return
    if (attempt === TRIES) throw new OutpostError('CGROUP_SETUP', `cannot empty the memory cgroup ${dir}: processes left after ${TRIES} rounds of SIGKILL: ${left.join(', ')}`, { details: { path: dir } })
    if (existsSync(killFile)) writeFileSync(killFile, '1')
    else left.forEach(killPid)
    await sleep(attempt === 0 ? 5 : RETRY_MS)
  }
}

/** kills and removes a group with every group below it (a dead core's tree holds one group per module) */
export async function removeGroup (dir: string): Promise<void> {
  let entries: string[]
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter(e => e.isDirectory()).map(e => e.name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  for (const child of entries) await removeGroup(path.join(dir, child))
  await killGroup(dir)
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (code !== 'EBUSY' || attempt === TRIES) {
        throw new OutpostError('CGROUP_SETUP', `cannot remove the memory cgroup ${dir}: ${(err as Error).message} (processes left: ${words(path.join(dir, 'cgroup.procs')).join(', ') || 'none'})`, { details: { path: dir }, cause: err })
      }
    }
    await killGroup(dir)
    await sleep(RETRY_MS)
  }
}

/** removes each group from `dir` up to `top` (inclusive) while it is empty: the gateway's group, then `outpost` */
function removeEmptyUpTo (dir: string, top: string): void {
  for (let at = dir; at.startsWith(top); at = path.dirname(at)) {
    try {
      rmdirSync(at)
    } catch {
      return // still holds other groups (another instance, another gateway)
    }
    if (at === top) return
  }
}

export function createModuleCgroup (info: CgroupInfo, name: string, limits: CgroupLimits): ModuleCgroup {
  if (info.kind === 'none' || info.memoryRoot === undefined) {
    throw new OutpostError('CGROUP_SETUP', `cannot give module "${name}" a memory cgroup: ${info.reason}`)
  }
  const v2 = info.kind === 'v2'
  const top = path.join(info.memoryRoot, 'outpost')
  const dir = path.join(top, name)
  try {
    // v2 hands a controller down one level at a time: every group above the module's must pass it on
    let at = info.memoryRoot
    for (const level of ['outpost', ...name.split('/')]) {
      if (v2) enableMemory(at)
      at = path.join(at, level)
      mkdirSync(at, { recursive: true })
    }
    if (v2) configureV2(dir, limits)
    else configureV1(dir, limits)
  } catch (err) {
    throw new OutpostError('CGROUP_SETUP', `cannot set up the memory cgroup ${dir} for module "${name}": ${(err as Error).message}`, { details: { path: dir, limitBytes: limits.limitBytes }, cause: err })
  }
  const procsFile = path.join(dir, 'cgroup.procs')
  return {
    path: dir,
    procsFile,
    oomKills: () => counter(readOr(path.join(dir, v2 ? 'memory.events' : 'memory.oom_control'), ''), 'oom_kill'),
    usageBytes: () => Number(readOr(path.join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), '0')),
    kill: () => killGroup(dir),
    async remove () {
      // the module is gone: anything left is a descendant that outlived it (a setsid() child, a
      // double-forked grandchild), still holding memory
      await removeGroup(dir)
      removeEmptyUpTo(path.dirname(dir), top)
    },
  }
}

/**
 * The argv to put before a module's program so the process joins its group before it allocates anything:
 * the shell writes its own PID into the group, then execs the program in place (same PID), so the module
 * and every process it forks are charged to the group from the start. If it cannot join, it exits 125
 * (permanent failure): running without the limit the manifest asks for would be a silent failure.
 */
export function cgroupSpawnPrefix (group: Pick<ModuleCgroup, 'procsFile'>): string[] {
  return ['/bin/sh', '-c', 'echo $$ > "$0" || exit 125; exec "$@"', group.procsFile]
}
