// The far end of the cable: a simulated device that opens the PTY's other end with plain serialport and
// records what it receives. Plus bounded waits for events, so no test hangs when something does not come.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { SerialPort } from 'serialport'
import type { ManagedSerial, SerialEvents } from '../../drivers/lib/serial/index.js'
import { startPtyPair } from '../helpers/pty.js'
import type { PtyPair } from '../helpers/pty.js'

export interface SimDevice {
  /** every byte received so far */
  received (): Buffer
  waitFor (what: string, predicate: (received: Buffer) => boolean, timeoutMs?: number): Promise<void>
  write (data: Buffer | string): Promise<void>
  close (): Promise<void>
}

export async function until (what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

export async function openDevice (devicePath: string): Promise<SimDevice> {
  const port = new SerialPort({ path: devicePath, baudRate: 9600, autoOpen: false })
  port.on('error', () => {})
  await new Promise<void>((resolve, reject) => { port.open(err => { err === null ? resolve() : reject(err) }) })
  let received = Buffer.alloc(0)
  port.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
  return {
    received: () => received,
    waitFor: (what, predicate, timeoutMs) => until(what, () => predicate(received), timeoutMs),
    write: data => new Promise((resolve, reject) => { port.write(data, err => { err === null || err === undefined ? resolve() : reject(err) }) }),
    close: () => new Promise(resolve => { port.isOpen ? port.close(() => { resolve() }) : resolve() }),
  }
}

/** the next `event` from a managed port (matching `filter`), or a rejection after `timeoutMs` */
export function nextEvent<F, E extends keyof SerialEvents<F>> (serial: ManagedSerial<F>, event: E, timeoutMs = 5000,
  filter: (...args: SerialEvents<F>[E]) => boolean = () => true): Promise<SerialEvents<F>[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`no ${String(event)} event from ${serial.path} within ${timeoutMs} ms`))
    }, timeoutMs)
    const off = serial.on(event, (...args) => {
      if (!filter(...args)) return
      clearTimeout(timer)
      off()
      resolve(args)
    })
  })
}

/** a temp dir removed after the test */
export function tempDir (t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-serial-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** a socat PTY pair in a temp dir, stopped after the test */
export async function ptyPair (t: TestContext, dir = tempDir(t), names?: { a?: string, b?: string }): Promise<PtyPair> {
  const pair = await startPtyPair(dir, names)
  t.after(() => pair.stop())
  return pair
}

/** registers cleanup for a managed port or device */
export function closeAfter<T extends { close (): Promise<void> }> (t: TestContext, thing: T): T {
  t.after(() => thing.close())
  return thing
}
