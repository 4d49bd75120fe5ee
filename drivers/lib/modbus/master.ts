// A Modbus RTU master over any byte transport. One transaction at a time (RTU is half-duplex: a second
// request before the answer would collide on the bus); each attempt bounded by a timeout and retried on
// a timeout or a bad CRC; bytes arriving outside a transaction (a late answer, line noise) are dropped.
import { OutpostError } from '../../../core/errors.js'
import type { Logger } from '../../../core/sdk/log.js'
import { checkCrc } from './crc.js'
import { describeRequest, encodeRequest, exceptionError, parseResponse, responseLength } from './frame.js'
import type { ModbusRequest } from './frame.js'

export interface ModbusTransport {
  write (data: Buffer): Promise<void>
  /** subscribes to incoming bytes; returns the unsubscribe function */
  onData (listener: (chunk: Buffer) => void): () => void
}

export interface ModbusMasterOptions {
  /** how long one attempt waits for the whole answer */
  timeoutMs: number
  /** attempts after the first one, on MODBUS_TIMEOUT or MODBUS_CRC */
  retries: number
  /** silence kept before each request (RTU wants 3.5 characters: 4 ms at 9600 baud); default 5 */
  interFrameDelayMs?: number
  log?: Logger
}

export interface ModbusMasterStats {
  transactions: number
  retries: number
  timeouts: number
  crcErrors: number
  exceptions: number
  /** bytes dropped: outside a transaction, or skipped while looking for the answer */
  discardedBytes: number
}

export interface ModbusMaster {
  readCoils (unit: number, address: number, count: number): Promise<boolean[]>
  readDiscreteInputs (unit: number, address: number, count: number): Promise<boolean[]>
  readHoldingRegisters (unit: number, address: number, count: number): Promise<number[]>
  readInputRegisters (unit: number, address: number, count: number): Promise<number[]>
  writeCoil (unit: number, address: number, value: boolean): Promise<void>
  writeRegister (unit: number, address: number, value: number): Promise<void>
  writeCoils (unit: number, address: number, values: boolean[]): Promise<void>
  writeRegisters (unit: number, address: number, values: number[]): Promise<void>
  readonly stats: Readonly<ModbusMasterStats>
  /** stops listening to the transport; later calls fail */
  close (): void
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** a transport failure: the serial layer's own error (SERIAL_DISCONNECTED, …) as it is, anything else wrapped */
function sendError (req: ModbusRequest, err: unknown): OutpostError {
  if (err instanceof OutpostError) return err
  return new OutpostError('SERIAL_DISCONNECTED', `${describeRequest(req)}: the request could not be sent (${err instanceof Error ? err.message : String(err)})`, { cause: err })
}

export function createModbusMaster (transport: ModbusTransport, options: ModbusMasterOptions): ModbusMaster {
  const { timeoutMs, retries, log } = options
  const gapMs = options.interFrameDelayMs ?? 5
  const stats: ModbusMasterStats = { transactions: 0, retries: 0, timeouts: 0, crcErrors: 0, exceptions: 0, discardedBytes: 0 }
  /** the byte sink of the attempt waiting for its answer; undefined between transactions */
  let sink: ((chunk: Buffer) => void) | undefined
  let closed = false
  let queue: Promise<unknown> = Promise.resolve()

  const unsubscribe = transport.onData(chunk => {
    if (sink === undefined) stats.discardedBytes += chunk.length
    else sink(chunk)
  })

  /** one request and its answer: the values, undefined for a write, or an OutpostError */
  const attempt = (req: ModbusRequest, adu: Buffer): Promise<boolean[] | number[] | undefined> => new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0)
    const skipped: string[] = []
    let done = false
    const finish = (err: OutpostError | undefined, values?: boolean[] | number[]): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sink = undefined
      stats.discardedBytes += buffer.length
      if (err === undefined) resolve(values)
      else reject(err)
    }
    const timer = setTimeout(() => {
      const heard = buffer.length + skipped.length > 0 ? ` (heard ${buffer.length} bytes that formed no answer${skipped.length > 0 ? `; ${skipped.join('; ')}` : ''})` : ''
      finish(new OutpostError('MODBUS_TIMEOUT', `${describeRequest(req)}: no answer within ${timeoutMs} ms${heard}`, {
        details: { unit: req.unit, fc: req.fc, address: req.address, timeoutMs },
      }))
    }, timeoutMs)

    // cut the answer out of whatever arrives: skip bytes until one starts with our unit and function code
    const scan = (): void => {
      while (buffer.length >= 2) {
        if (buffer[0] !== req.unit || (buffer[1] !== req.fc && buffer[1] !== (req.fc | 0x80))) {
          buffer = buffer.subarray(1)
          stats.discardedBytes++
          continue
        }
        const length = responseLength(buffer)
        if (length === undefined || buffer.length < length) return
        const frame = buffer.subarray(0, length)
        buffer = buffer.subarray(length)
        if (!checkCrc(frame)) {
          stats.crcErrors++
          finish(new OutpostError('MODBUS_CRC', `${describeRequest(req)}: the answer failed its CRC check (${frame.toString('hex')})`, {
            details: { unit: req.unit, fc: req.fc, address: req.address, frame: frame.toString('hex') },
          }))
          return
        }
        const parsed = parseResponse(req, frame)
        if (parsed.kind === 'ok') {
          finish(undefined, parsed.values)
          return
        }
        if (parsed.kind === 'exception') {
          stats.exceptions++
          finish(exceptionError(req, parsed.code))
          return
        }
        stats.discardedBytes += frame.length
        skipped.push(`skipped ${frame.toString('hex')}: ${parsed.why}`)
      }
    }

    sink = chunk => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      scan()
    }
    transport.write(adu).catch((err: unknown) => { finish(sendError(req, err)) })
  })

  const transact = async (req: ModbusRequest, adu: Buffer): Promise<boolean[] | number[] | undefined> => {
    stats.transactions++
    for (let n = 0; ; n++) {
      if (gapMs > 0) await sleep(gapMs)
      if (closed) throw new OutpostError('UNAVAILABLE', `${describeRequest(req)}: the modbus master was closed`)
      if (req.unit === 0) {
        // broadcast: slaves act without answering; the gap before the next request gives them time
        await transport.write(adu).catch((err: unknown) => { throw sendError(req, err) })
        return undefined
      }
      try {
        return await attempt(req, adu)
      } catch (err) {
        const retryable = err instanceof OutpostError && (err.code === 'MODBUS_TIMEOUT' || err.code === 'MODBUS_CRC')
        if (err instanceof OutpostError && err.code === 'MODBUS_TIMEOUT') stats.timeouts++
        if (!retryable || n >= retries) throw err
        stats.retries++
        log?.debug('modbus retry', { request: describeRequest(req), attempt: n + 2, error: err.message })
      }
    }
  }

  /** queued behind every earlier transaction, whatever its outcome */
  const enqueue = <T>(req: ModbusRequest): Promise<T> => {
    if (closed) return Promise.reject(new OutpostError('UNAVAILABLE', `${describeRequest(req)}: the modbus master was closed`))
    let adu: Buffer
    try {
      adu = encodeRequest(req)
    } catch (err) {
      return Promise.reject(err)
    }
    const run = queue.then(() => transact(req, adu)) as Promise<T>
    queue = run.catch(() => {})
    return run
  }

  return {
    readCoils: (unit, address, count) => enqueue<boolean[]>({ fc: 1, unit, address, count }),
    readDiscreteInputs: (unit, address, count) => enqueue<boolean[]>({ fc: 2, unit, address, count }),
    readHoldingRegisters: (unit, address, count) => enqueue<number[]>({ fc: 3, unit, address, count }),
    readInputRegisters: (unit, address, count) => enqueue<number[]>({ fc: 4, unit, address, count }),
    writeCoil: (unit, address, value) => enqueue<void>({ fc: 5, unit, address, value }),
    writeRegister: (unit, address, value) => enqueue<void>({ fc: 6, unit, address, value }),
    writeCoils: (unit, address, values) => enqueue<void>({ fc: 15, unit, address, values }),
    writeRegisters: (unit, address, values) => enqueue<void>({ fc: 16, unit, address, values }),
    get stats () { return { ...stats } },
    close () {
      closed = true
      unsubscribe()
    },
  }
}
