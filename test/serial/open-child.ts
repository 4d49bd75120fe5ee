// Started by errors.test.ts as another user: opens a serial port through the managed layer and prints the
// first thing that happens (an `error` event or `open`) as one JSON line.
import { openSerial } from '../../drivers/lib/serial/index.js'

const portPath = process.argv[2] ?? ''
const serial = openSerial({ path: portPath, baudRate: 9600, framing: { type: 'raw' } })
const timer = setTimeout(() => { finish({ outcome: 'nothing happened within 5 s' }) }, 5000)

function finish (result: Record<string, unknown>): void {
  clearTimeout(timer)
  process.stdout.write(`${JSON.stringify(result)}\n`)
  void serial.close().then(() => { process.exit(0) })
}

serial.on('error', err => { finish({ outcome: 'error', code: err.code, message: err.message }) })
serial.on('open', () => { finish({ outcome: 'open' }) })
