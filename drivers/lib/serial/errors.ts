// Turning serialport's open failures into errors an operator can act on. The native binding throws plain
// Errors whose only clue is the strerror text ("No such file or directory, cannot open …"), so the
// classification reads the errno code when there is one and the message otherwise.
import { readFileSync, statSync } from 'node:fs'
import { OutpostError } from '../../../core/errors.js'

const NOT_FOUND = /ENOENT|ENXIO|ENODEV|No such file or directory|No such device/i
const NOT_A_TTY = /ENOTTY|Inappropriate ioctl/i
const BUSY = /EBUSY|Cannot lock port|Device or resource busy/i
const PERMISSION = /EACCES|EPERM|Permission denied|Operation not permitted/i

function describe (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    return code === undefined || err.message.includes(code) ? err.message : `${code}: ${err.message}`
  }
  return String(err)
}

/** the name of a group (or user) id from /etc/group (or /etc/passwd), or the number when unknown */
function nameOf (file: '/etc/group' | '/etc/passwd', id: number): string {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const fields = line.split(':')
      if (fields[2] === String(id) && fields[0] !== undefined && fields[0] !== '') return fields[0]
    }
  } catch {
    // no readable database: fall back to the number
  }
  return String(id)
}

/** what to change so this process may open the device, from the device node's owner, group and mode */
export function permissionHint (path: string): string {
  const st = statSync(path, { throwIfNoEntry: false })
  if (st === undefined) return `check the permissions of ${path} and of the folders leading to it`
  const group = nameOf('/etc/group', st.gid)
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0')
  if ((st.mode & 0o060) === 0o060) {
    return `add the service user to group '${group}' (usermod -aG ${group} <user>), then restart the service so it takes effect`
  }
  const owner = nameOf('/etc/passwd', st.uid)
  return `${path} is owned by ${owner}:${group} with mode ${mode}, which lets no group read and write it; ` +
    `add a udev rule giving it a group, e.g. GROUP="dialout", MODE="0660"`
}

function notFoundHint (path: string): string {
  if (/^\/dev\/tty(USB|ACM)\d+$/.test(path)) return 'USB adapters renumber between boots and replugs: use its stable link under /dev/serial/by-id/'
  if (path.startsWith('/dev/serial/by-id/')) return 'is the adapter plugged in? `ls /dev/serial/by-id/` lists the ones present'
  if (path === '/dev/serial0' || path === '/dev/serial1') return 'on a Raspberry Pi the UART aliases exist only with enable_uart=1 in config.txt'
  return 'for a USB adapter use its stable link under /dev/serial/by-id/'
}

/** the OutpostError for a failed open of `path`; the original error is kept as `cause` */
export function classifyOpenError (err: unknown, path: string): OutpostError {
  const text = describe(err)
  const details = { path, reason: text }
  if (BUSY.test(text)) {
    return new OutpostError('SERIAL_BUSY', `serial port ${path} is already open elsewhere (${text}); ` +
      'another process (or another driver of this gateway) holds it: `fuser -v ' + path + '` shows which', { details, cause: err })
  }
  if (PERMISSION.test(text)) {
    return new OutpostError('SERIAL_PERMISSION', `no permission to open serial port ${path} (${text}); ${permissionHint(path)}`, { details, cause: err })
  }
  if (NOT_A_TTY.test(text)) {
    return new OutpostError('SERIAL_NOT_FOUND', `${path} exists but is not a serial port (${text})`, { details, cause: err })
  }
  if (NOT_FOUND.test(text)) {
    return new OutpostError('SERIAL_NOT_FOUND', `serial port ${path} does not exist; ${notFoundHint(path)}`, { details, cause: err })
  }
  // anything else (EIO from a half-gone adapter, …): the device is there but unusable
  return new OutpostError('SERIAL_DISCONNECTED', `serial port ${path} could not be opened: ${text}`, { details, cause: err })
}
