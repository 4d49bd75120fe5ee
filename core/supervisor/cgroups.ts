// Kernel memory limits: one memory cgroup per module, where the kernel offers one. Past its limit the kernel
// SIGKILLs the module (exit by SIGKILL, nothing on stderr) and counts an oom_kill: a hard stop the userspace
// sampler cannot give, for memory the sampler does not see in time. Where there is no usable memory
// controller (Raspberry Pi OS by default), detection says why in one line and the sampler works alone.
// Module groups nest under the gateway's own cgroup, so a service manager's limit on the gateway still
// covers its modules (docs/supervision.md).
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
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
  /** kills whatever is still in the group (descendants that outlived the module), then removes it */
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

/** the shared `outpost` group goes with the last module group in it */
function removeIfEmpty (dir: string): void {
  try {
    rmdirSync(dir)
  } catch {
    // still holds other modules' groups
  }
}

export function createModuleCgroup (info: CgroupInfo, name: string, limits: CgroupLimits): ModuleCgroup {
  if (info.kind === 'none' || info.memoryRoot === undefined) {
    throw new OutpostError('CGROUP_SETUP', `cannot give module "${name}" a memory cgroup: ${info.reason}`)
  }
  const v2 = info.kind === 'v2'
  const parent = path.join(info.memoryRoot, 'outpost')
  const dir = path.join(parent, name)
  try {
    if (v2) enableMemory(info.memoryRoot)
    mkdirSync(parent, { recursive: true })
    if (v2) enableMemory(parent)
    mkdirSync(dir, { recursive: true })
    if (v2) configureV2(dir, limits)
    else configureV1(dir, limits)
  } catch (err) {
    throw new OutpostError('CGROUP_SETUP', `cannot set up the memory cgroup ${dir} for module "${name}": ${(err as Error).message}`, { details: { path: dir, limitBytes: limits.limitBytes }, cause: err })
  }
  const procsFile = path.join(dir, 'cgroup.procs')
  const pids = (): number[] => words(procsFile).map(Number)
  return {
    path: dir,
    procsFile,
    oomKills: () => counter(readOr(path.join(dir, v2 ? 'memory.events' : 'memory.oom_control'), ''), 'oom_kill'),
    usageBytes: () => Number(readOr(path.join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), '0')),
    async remove () {
      // a group cannot be removed while it holds processes; the module is gone, so anything left is a
      // descendant that outlived it, still holding memory
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir)
          removeIfEmpty(parent)
          return
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'ENOENT') return
          if (code !== 'EBUSY' || attempt === 40) {
            throw new OutpostError('CGROUP_SETUP', `cannot remove the memory cgroup ${dir}: ${(err as Error).message} (processes left: ${pids().join(', ') || 'none'})`, { details: { path: dir }, cause: err })
          }
        }
        for (const pid of pids()) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // already gone
          }
        }
        await sleep(50)
      }
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
