// Which device a path leads to. serialport can miss a device vanishing under an open port (bindings-cpp
// issue #162: `isOpen` stays true, sometimes with a read loop spinning at 100% CPU), and it cannot see a
// /dev/serial/by-id link re-pointed to a new ttyUSBn after a replug. Comparing the path's identity with the
// one seen at open catches both. stat on a device node does not touch the device, so polling it is cheap.
import { realpathSync, statSync } from 'node:fs'

export interface DeviceIdentity {
  /** the device node the path resolves to, after following links */
  target: string
  /** device number (major/minor) of the node */
  rdev: number
  /** inode of the node: a node recreated by udev after a replug has a new one, even under the same name */
  ino: number
  dev: number
}

/** the identity of the device behind `path`, or undefined when the path leads nowhere */
export function identify (path: string): DeviceIdentity | undefined {
  try {
    const st = statSync(path, { throwIfNoEntry: false })
    if (st === undefined) return undefined
    return { target: realpathSync(path), rdev: st.rdev, ino: st.ino, dev: st.dev }
  } catch {
    // a dangling link half-way (ENOTDIR, ELOOP, a race with udev): nothing usable there now
    return undefined
  }
}

export function sameDevice (a: DeviceIdentity, b: DeviceIdentity): boolean {
  return a.target === b.target && a.rdev === b.rdev && a.ino === b.ino && a.dev === b.dev
}
