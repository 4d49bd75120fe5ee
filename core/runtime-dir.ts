// The runtime folder: the module socket, the board in force, the simulation root and each module's config
// file live here. A folder another user can write (or one they created first, as anyone can under /tmp)
// would let them swap these files for symlinks or listen in place of the broker, so the core uses a folder
// only it can write, creates it 0700 itself, and writes files there without following symlinks. With a
// module group (modules under their own users) the folder is 0750 and that group's; each config file then
// belongs to its module's user alone.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { OutpostError } from './errors.js'

export interface RuntimeDir {
  dir: string
  /** the level above `dir` is one the core made for itself (`outpost`, `outpost-<uid>`): it must be ours too */
  ownParent: boolean
}

/**
 * Where a gateway's runtime folder is, first match wins: the manifest's `runtimeDir`; systemd's
 * `$RUNTIME_DIRECTORY` (RuntimeDirectory=); `/run/outpost` when running as root; `$XDG_RUNTIME_DIR/outpost`;
 * else a per-user `<tmpdir>/outpost-<uid>`. The gateway's own folder is `<gateway>` under the last four.
 */
export function runtimeDirFor (gateway: string, configured: string | undefined, env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? -1): RuntimeDir {
  if (configured !== undefined) return { dir: path.resolve(configured), ownParent: false }
  const systemd = env.RUNTIME_DIRECTORY?.split(':')[0]
  if (systemd !== undefined && systemd !== '') return { dir: path.join(systemd, gateway), ownParent: false }
  if (uid === 0) return { dir: path.join('/run/outpost', gateway), ownParent: true }
  if (env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== '') return { dir: path.join(env.XDG_RUNTIME_DIR, 'outpost', gateway), ownParent: true }
  return { dir: path.join(os.tmpdir(), `outpost-${uid}`, gateway), ownParent: true }
}

function refuse (dir: string, why: string, fix: string): never {
  throw new OutpostError('RUNTIME_DIR', `runtime folder ${dir} ${why}: ${fix}`, { details: { path: dir } })
}

/** a folder of our own: a real folder (not a symlink), owned by this user, that no other user can write */
function checkOwn (dir: string): void {
  const stat = fs.lstatSync(dir)
  const fix = `remove it, or name another folder in the manifest's "runtimeDir"`
  if (!stat.isDirectory()) refuse(dir, stat.isSymbolicLink() ? 'is a symbolic link' : 'is not a folder', fix)
  const uid = process.geteuid?.()
  if (uid !== undefined && stat.uid !== uid) refuse(dir, `belongs to uid ${stat.uid}, not to this user (uid ${uid})`, fix)
  if ((stat.mode & 0o022) !== 0) refuse(dir, `can be written by other users (mode ${(stat.mode & 0o777).toString(8)})`, `chmod go-w ${dir}, or ${fix}`)
}

/**
 * Creates the folder (and the `outpost` / `outpost-<uid>` level above it that the core chose) 0700, or checks
 * the one found there: it must be ours and writable by us alone, or the gateway does not start (RUNTIME_DIR).
 */
export function prepareRuntimeDir ({ dir, ownParent }: RuntimeDir, moduleGid?: number): void {
  const parent = path.dirname(dir)
  // the per-user level under a shared folder (/tmp, $XDG_RUNTIME_DIR, /run) is checked before anything goes in it
  if (ownParent) makeOwn(parent)
  else {
    try {
      fs.mkdirSync(parent, { recursive: true, mode: 0o700 })
    } catch (err) {
      throw new OutpostError('RUNTIME_DIR', `cannot create runtime folder ${parent}: ${(err as Error).message}`, { cause: err, details: { path: parent } })
    }
  }
  makeOwn(dir)
  if (moduleGid === undefined) return
  // modules under their own users reach the socket and the board through the module group: the folder is
  // theirs to enter and list (0750), setgid so that what the core makes in it (the socket) has that group;
  // the level the core made above it lets anyone pass, not list (0711)
  try {
    if (ownParent) fs.chmodSync(parent, 0o711)
    fs.chownSync(dir, process.geteuid?.() ?? -1, moduleGid)
    fs.chmodSync(dir, 0o2750)
  } catch (err) {
    throw new OutpostError('RUNTIME_DIR', `cannot give runtime folder ${dir} to the module group (gid ${moduleGid}): ${(err as Error).message}`, { cause: err, details: { path: dir } })
  }
}

function makeOwn (dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new OutpostError('RUNTIME_DIR', `cannot create runtime folder ${dir}: ${(err as Error).message}`, { cause: err, details: { path: dir } })
  }
  checkOwn(dir)
}

/** who may read a runtime file besides the core: its group (the board, for module users), or one module's user */
export type RuntimeFileAccess = { group: true } | { owner: { uid: number, gid: number } }

/**
 * Writes a file in the runtime folder without following a symlink: a temporary file created new
 * (O_EXCL | O_NOFOLLOW, 0600), renamed over the target (rename replaces a symlink, never its target).
 * `access` opens it to the folder's group (0640), or gives it to one module's user (0600, theirs).
 */
export function writeRuntimeFile (file: string, text: string, access?: RuntimeFileAccess): void {
  const temp = `${file}.${process.pid}.tmp`
  fs.rmSync(temp, { force: true }) // a leftover of a crashed core with this pid
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants
  const fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
  try {
    fs.writeSync(fd, text)
    if (access !== undefined && 'group' in access) fs.fchmodSync(fd, 0o640)
    if (access !== undefined && 'owner' in access) fs.fchownSync(fd, access.owner.uid, access.owner.gid)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(temp, file)
}
