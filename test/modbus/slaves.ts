// Slaves on the far end of a PTY pair: pymodbus's RTU server (a Modbus implementation we did not write),
// and a scriptable fake in Node for the faults pymodbus will not produce (bad CRCs, late answers, noise).
import { spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { SerialPort } from 'serialport'
import { withCrc } from '../../drivers/lib/modbus/index.js'
import { until } from '../serial/sim.js'

const SERVER = fileURLToPath(new URL('../../../test/fixtures/modbus/server.py', import.meta.url))

export interface SlaveReport {
  event: string
  table?: string
  address?: number
  values?: number[]
}

export interface PythonSlave {
  reports: SlaveReport[]
  /** asks the server for the values of a table and returns them */
  dump (table: 'co' | 'di' | 'hr' | 'ir', address: number, count: number): Promise<number[]>
  stop (): Promise<void>
}

/** starts pymodbus serving `unit` on `portPath` with preset values; stopped after the test */
export async function startPythonSlave (t: TestContext, portPath: string, unit: number, preset: Record<string, Record<string, number[]>>): Promise<PythonSlave> {
  const proc = spawn('/usr/bin/python3', [SERVER, portPath, String(unit), JSON.stringify(preset)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const reports: SlaveReport[] = []
  let stderr = ''
  let pending = ''
  let exited = false
  proc.stdout.setEncoding('utf8')
  proc.stdout.on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) if (line.trim() !== '') reports.push(JSON.parse(line) as SlaveReport)
  })
  proc.stderr.on('data', chunk => { stderr += String(chunk) })
  const exit = new Promise<void>(resolve => { proc.once('exit', () => { exited = true; resolve() }) })
  const stop = async (): Promise<void> => {
    if (exited) return
    proc.kill('SIGTERM')
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, 3000)
    await exit
    clearTimeout(timer)
  }
  t.after(stop)
  await until(`pymodbus to be ready (stderr: ${stderr})`, () => reports.some(r => r.event === 'ready') || exited, 15_000)
  if (exited) throw new Error(`pymodbus server exited: ${stderr}`)
  return {
    reports,
    async dump (table, address, count) {
      const seen = reports.length
      proc.stdin.write(`dump ${table} ${address} ${count}\n`)
      await until('the dump', () => reports.slice(seen).some(r => r.event === 'dump'))
      return reports.slice(seen).find(r => r.event === 'dump')?.values ?? []
    },
    stop,
  }
}

/** the length of a whole request frame at the start of `buf`, or undefined while incomplete */
function requestLength (buf: Buffer): number | undefined {
  const fc = buf[1]
  if (fc === undefined) return undefined
  if (fc === 15 || fc === 16) return buf[6] === undefined ? undefined : 7 + buf[6] + 2
  return 8
}

export interface FakeSlave {
  /** every request received, CRC included */
  requests: Buffer[]
  /** bytes sent to the master unasked */
  send (data: Buffer): Promise<void>
  close (): Promise<void>
}

/**
 * A slave whose answers a test scripts: `answer` gets each request (without CRC) and the number of requests
 * so far, and returns the bytes to send back (`withCrc` for a proper frame), or undefined for silence.
 */
export async function startFakeSlave (t: TestContext, portPath: string,
  answer: (request: Buffer, index: number) => Buffer | undefined | Promise<Buffer | undefined>): Promise<FakeSlave> {
  const port = new SerialPort({ path: portPath, baudRate: 9600, autoOpen: false })
  port.on('error', () => {})
  await new Promise<void>((resolve, reject) => { port.open(err => { err === null ? resolve() : reject(err) }) })
  const requests: Buffer[] = []
  let buffer = Buffer.alloc(0)
  const send = (data: Buffer): Promise<void> => new Promise(resolve => { port.write(data, () => { resolve() }) })
  let chain = Promise.resolve()
  port.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk])
    for (let length = requestLength(buffer); length !== undefined && buffer.length >= length; length = requestLength(buffer)) {
      const request = buffer.subarray(0, length)
      buffer = buffer.subarray(length)
      const index = requests.push(request) - 1
      chain = chain.then(async () => {
        const reply = await answer(request.subarray(0, -2), index)
        if (reply !== undefined) await send(reply)
      })
    }
  })
  const close = (): Promise<void> => new Promise(resolve => { port.isOpen ? port.close(() => { resolve() }) : resolve() })
  t.after(close)
  return { requests, send, close }
}

/** an answer to a read of holding registers with these values */
export function registersAnswer (unit: number, values: number[]): Buffer {
  const body = Buffer.alloc(3 + values.length * 2)
  body[0] = unit
  body[1] = 3
  body[2] = values.length * 2
  values.forEach((v, i) => { body.writeUInt16BE(v, 3 + i * 2) })
  return withCrc(body)
}
