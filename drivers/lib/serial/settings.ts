// Reading back the settings a port took. serialport reports success when tcsetattr() applied any part of
// the request, and the kernel silently keeps what a driver cannot do: a PTY forces 8 data bits and no
// parity, some USB adapters have no mark/space parity. So after opening, the layer reads the termios
// settings back with `stty -F <path> -a` (coreutils; serialport's own get() reads only modem lines and
// fails on a PTY) and refuses a port that did not take what was asked.
import { execFile } from 'node:child_process'

export interface PortSettings {
  baudRate: number
  dataBits: 5 | 6 | 7 | 8
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space'
  stopBits: 1 | 1.5 | 2
}

const STTY_TIMEOUT_MS = 2000
/** the rates termios names (B50 … B4000000); others go through BOTHER, which stty does not report alike */
const STANDARD_RATES = new Set([50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000])

/** e.g. "9600 8E1" */
export function describeSettings (s: PortSettings): string {
  return `${s.baudRate} ${s.dataBits}${s.parity[0]?.toUpperCase() ?? '?'}${s.stopBits}`
}

/** the settings in `stty -a` output, as far as it tells them */
export function parseStty (text: string): Partial<PortSettings> {
  const flag = (name: string): boolean | undefined => {
    if (new RegExp(`(^|\\s)-${name}(\\s|$)`).test(text)) return false
    if (new RegExp(`(^|\\s)${name}(\\s|$)`).test(text)) return true
    return undefined
  }
  const out: Partial<PortSettings> = {}
  const speed = /speed (\d+) baud/.exec(text)
  if (speed !== null) out.baudRate = Number(speed[1])
  const size = /(^|\s)cs([5-8])(\s|$)/.exec(text)
  if (size !== null) out.dataBits = Number(size[2]) as PortSettings['dataBits']
  const parenb = flag('parenb')
  const parodd = flag('parodd')
  const cmspar = flag('cmspar')
  if (parenb === false) out.parity = 'none'
  else if (parenb === true) out.parity = cmspar === true ? (parodd === true ? 'mark' : 'space') : (parodd === true ? 'odd' : 'even')
  const cstopb = flag('cstopb')
  if (cstopb !== undefined) out.stopBits = cstopb ? 2 : 1
  return out
}

/** what was asked and not taken, e.g. ["parity even (the port has none)"]; settings stty did not report are not judged */
export function settingsNotTaken (wanted: PortSettings, got: Partial<PortSettings>): string[] {
  const wrong: string[] = []
  if (got.baudRate !== undefined && STANDARD_RATES.has(wanted.baudRate) && got.baudRate !== wanted.baudRate) wrong.push(`baud rate ${wanted.baudRate} (the port has ${got.baudRate})`)
  if (got.dataBits !== undefined && got.dataBits !== wanted.dataBits) wrong.push(`${wanted.dataBits} data bits (the port has ${got.dataBits})`)
  if (got.parity !== undefined && got.parity !== wanted.parity) wrong.push(`parity ${wanted.parity} (the port has ${got.parity})`)
  // 1.5 stop bits is CSTOPB with 5 data bits in termios
  const stop = wanted.stopBits === 1 ? 1 : 2
  if (got.stopBits !== undefined && got.stopBits !== stop) wrong.push(`${wanted.stopBits} stop bits (the port has ${got.stopBits})`)
  return wrong
}

/** the port's settings as the kernel holds them, or the reason they could not be read */
export function readSettings (path: string): Promise<{ settings: Partial<PortSettings> } | { unreadable: string }> {
  return new Promise(resolve => {
    execFile('stty', ['-F', path, '-a'], { timeout: STTY_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) resolve({ unreadable: `stty -F ${path} -a failed: ${(stderr || err.message).trim()}` })
      else resolve({ settings: parseStty(stdout) })
    })
  })
}
