// A Modbus RTU master over any byte transport. One transaction at a time (RTU is half-duplex: a second
// request before the answer would collide on the bus); each attempt bounded by a timeout and retried on
// a timeout, a bad CRC or a bad echo. Calls go before background work (polls). Bytes arriving outside a
// transaction (a late answer, line noise) are dropped, and RTU frames carry no transaction id, so the
// master keeps the line quiet before each request: the inter-frame gap always, and after an attempt that
// got no good answer, `timeoutMs` of silence before the next request, so that a late answer is drained
// rather than taken for the answer to the next request.
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
  /** attempts after the first one, on MODBUS_TIMEOUT, MODBUS_CRC or MODBUS_ECHO */
  retries: number
  /** the line's baud rate, for the inter-frame gap (3.5 character times; 1.75 ms above 19200 baud); default 9600 */
  baudRate?: number
  /** the least silence kept before each request, when more than the gap the baud rate gives */
  interFrameDelayMs?: number
  /** the transceiver echoes every request back (RS-485 without echo suppression): skip the echo, checking it */
  echo?: boolean
  log?: Logger
}

export interface ModbusMasterStats {
  transactions: number
  retries: number
  timeouts: number
  crcErrors: number
  echoErrors: number
  exceptions: number
  /** bytes dropped: outside a transaction, or skipped while looking for the answer */
  discardedBytes: number
  /** waits for a quiet line after an attempt that got no good answer (a late answer would be drained) */
  drains: number
}

export interface CallOptions {
  /** background work (polls) waits behind every call that is not */
  background?: boolean
}

export interface ModbusMaster {
  readCoils (unit: number, address: number, count: number, options?: CallOptions): Promise<boolean[]>
  readDiscreteInputs (unit: number, address: number, count: number, options?: CallOptions): Promise<boolean[]>
  readHoldingRegisters (unit: number, address: number, count: number, options?: CallOptions): Promise<number[]>
  readInputRegisters (unit: number, address: number, count: number, options?: CallOptions): Promise<number[]>
  writeCoil (unit: number, address: number, value: boolean): Promise<void>
  writeRegister (unit: number, address: number, value: number): Promise<void>
  writeCoils (unit: number, address: number, values: boolean[]): Promise<void>
  writeRegisters (unit: number, address: number, values: number[]): Promise<void>
  readonly stats: Readonly<ModbusMasterStats>
  /** stops listening to the transport; queued and later calls fail */
  close (): void
}

/** the least gap kept whatever the baud rate: timers and schedulers are not finer than this */
const MIN_GAP_MS = 2

/** 3.5 character times of 11 bits at `baudRate` (Modbus over serial line V1.02, 2.5.1.1: 1.75 ms above 19200 baud) */
export function interFrameGapMs (baudRate: number): number {
  return baudRate > 19_200 ? 1.75 : (3.5 * 11 * 1000) / baudRate
}

/** a transport failure: the serial layer's own error (SERIAL_DISCONNECTED, …) as it is, anything else wrapped */
function sendError (req: ModbusRequest, err: unknown): OutpostError {
  if (err instanceof OutpostError) return err
  return new OutpostError('SERIAL_DISCONNECTED', `${describeRequest(req)}: the request could not be sent (${err instanceof Error ? err.message : String(err)})`, { cause: err })
}

const RETRYABLE = new Set(['MODBUS_TIMEOUT', 'MODBUS_CRC', 'MODBUS_ECHO'])

interface Job {
  req: ModbusRequest
  adu: Buffer
  resolve: (values: boolean[] | number[] | undefined) => void
  reject: (err: unknown) => void
}

export function createModbusMaster (transport: ModbusTransport, options: ModbusMasterOptions): ModbusMaster {
  const { timeoutMs, retries, log } = options
  const echo = options.echo === true
  const gapMs = Math.max(MIN_GAP_MS, interFrameGapMs(options.baudRate ?? 9600), options.interFrameDelayMs ?? 0)
  const stats: ModbusMasterStats = { transactions: 0, retries: 0, timeouts: 0, crcErrors: 0, echoErrors: 0, exceptions: 0, discardedBytes: 0, drains: 0 }
  /** the byte sink of the attempt waiting for its answer; undefined between transactions */
  let sink: ((chunk: Buffer) => void) | undefined
  /** when the last byte arrived, or the last attempt ended if later: the line's silence counts from there */
  let lastByteAt = -Infinity
  /** an attempt got no good answer: its answer may still come, so the next request waits for a quiet line */
  let unsettled = false
  let closed = false
  const calls: Job[] = []
  const background: Job[] = []
  let pumping = false

  const unsubscribe = transport.onData(chunk => {
    lastByteAt = performance.now()
    if (sink === undefined) stats.discardedBytes += chunk.length
    else sink(chunk)
  })

  /** resolves true once nothing has arrived for `quietMs`, false if the line is still busy after `withinMs` */
  const quiet = (quietMs: number, withinMs: number): Promise<boolean> => new Promise(resolve => {
    const started = performance.now()
    const check = (): void => {
      const now = performance.now()
      const silent = now - lastByteAt
      if (silent >= quietMs) resolve(true)
      else if (now - started >= withinMs) resolve(false)
      else setTimeout(check, Math.max(1, Math.ceil(quietMs - silent)))
    }
    check()
  })

  /** one request and its answer (none for a broadcast): the values, undefined for a write, or an OutpostError */
  const attempt = (req: ModbusRequest, adu: Buffer): Promise<boolean[] | number[] | undefined> => new Promise((resolve, reject) => {
    const expectAnswer = req.unit !== 0
    let buffer: Buffer = Buffer.alloc(0)
    let echoLeft = echo ? adu.length : 0
    const skipped: string[] = []
    let done = false
    const finish = (err: OutpostError | undefined, values?: boolean[] | number[]): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sink = undefined
      // silence before the next request counts from the end of this attempt at the earliest
      lastByteAt = performance.now()
      stats.discardedBytes += buffer.length
      if (err === undefined) resolve(values)
      else reject(err)
    }
    const details = { unit: req.unit, fc: req.fc, address: req.address }
    const timer = setTimeout(() => {
      const heard = buffer.length + skipped.length > 0 ? ` (heard ${buffer.length} bytes that formed no answer${skipped.length > 0 ? `; ${skipped.join('; ')}` : ''})` : ''
      const echoMissing = echoLeft > 0 ? ` (${adu.length - echoLeft} of the ${adu.length} echoed bytes came back: is echo on for a transceiver that does not echo?)` : ''
      finish(new OutpostError('MODBUS_TIMEOUT', `${describeRequest(req)}: no ${expectAnswer ? 'answer' : 'echo'} within ${timeoutMs} ms${echoMissing}${heard}`, { details: { ...details, timeoutMs } }))
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
          finish(new OutpostError('MODBUS_CRC', `${describeRequest(req)}: the answer failed its CRC check (${frame.toString('hex')})`, { details: { ...details, frame: frame.toString('hex') } }))
          return
        }
        // the frame's unit and function code are checked against the request's (a foreign or late frame is skipped)
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
      if (echoLeft > 0) {
        const take = Math.min(echoLeft, chunk.length)
        const offset = adu.length - echoLeft
        if (!chunk.subarray(0, take).equals(adu.subarray(offset, offset + take))) {
          stats.echoErrors++
          finish(new OutpostError('MODBUS_ECHO', `${describeRequest(req)}: the echo ${chunk.subarray(0, take).toString('hex')} does not match the request's bytes ${adu.subarray(offset, offset + take).toString('hex')} (a collision on the bus, or a transceiver that does not echo)`, { details: { ...details } }))
          return
        }
        echoLeft -= take
        chunk = chunk.subarray(take)
        if (echoLeft === 0 && !expectAnswer) {
          finish(undefined)
          return
        }
      }
      if (chunk.length === 0) return
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      scan()
    }
    transport.write(adu).then(() => {
      // a broadcast has no answer: without an echo to wait for, it is done once written
      if (!expectAnswer && !echo) finish(undefined)
    }, (err: unknown) => { finish(sendError(req, err)) })
  })

  const transact = async (req: ModbusRequest, adu: Buffer): Promise<boolean[] | number[] | undefined> => {
    stats.transactions++
    for (let n = 0; ; n++) {
      try {
        if (closed) throw new OutpostError('UNAVAILABLE', `${describeRequest(req)}: the modbus master was closed`)
        // a retry of the same request may take the first attempt's late answer (the same data); another request may not
        const drain = unsettled && n === 0
        const needed = drain ? timeoutMs : gapMs
        if (drain) stats.drains++
        if (!await quiet(needed, needed + timeoutMs)) {
          throw new OutpostError('MODBUS_TIMEOUT', `${describeRequest(req)}: not sent, the line did not go quiet for ${Math.ceil(needed)} ms within ${Math.ceil(needed + timeoutMs)} ms (a device keeps sending)`, {
            details: { unit: req.unit, fc: req.fc, address: req.address, timeoutMs },
          })
        }
        if (n === 0) unsettled = false
        const values = await attempt(req, adu)
        return values
      } catch (err) {
        const code = err instanceof OutpostError ? err.code : undefined
        if (code === 'MODBUS_TIMEOUT') stats.timeouts++
        if (code !== undefined && RETRYABLE.has(code)) unsettled = true
        if (code === undefined || !RETRYABLE.has(code) || n >= retries) throw err
        stats.retries++
        log?.debug('modbus retry', { request: describeRequest(req), attempt: n + 2, error: (err as Error).message })
      }
    }
  }

  const pump = async (): Promise<void> => {
    if (pumping) return
    pumping = true
    for (let job = calls.shift() ?? background.shift(); job !== undefined; job = calls.shift() ?? background.shift()) {
      try {
        job.resolve(await transact(job.req, job.adu))
      } catch (err) {
        job.reject(err)
      }
    }
    pumping = false
  }

  /** queued behind earlier calls (background work behind every call), whatever their outcome */
  const enqueue = <T>(req: ModbusRequest, options: CallOptions = {}): Promise<T> => {
    if (closed) return Promise.reject(new OutpostError('UNAVAILABLE', `${describeRequest(req)}: the modbus master was closed`))
    let adu: Buffer
    try {
      adu = encodeRequest(req)
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<T>((resolve, reject) => {
      (options.background === true ? background : calls).push({ req, adu, resolve: resolve as Job['resolve'], reject })
      void pump()
    })
  }

  return {
    readCoils: (unit, address, count, options) => enqueue<boolean[]>({ fc: 1, unit, address, count }, options),
    readDiscreteInputs: (unit, address, count, options) => enqueue<boolean[]>({ fc: 2, unit, address, count }, options),
    readHoldingRegisters: (unit, address, count, options) => enqueue<number[]>({ fc: 3, unit, address, count }, options),
    readInputRegisters: (unit, address, count, options) => enqueue<number[]>({ fc: 4, unit, address, count }, options),
    writeCoil: (unit, address, value) => enqueue<void>({ fc: 5, unit, address, value }),
    writeRegister: (unit, address, value) => enqueue<void>({ fc: 6, unit, address, value }),
    writeCoils: (unit, address, values) => enqueue<void>({ fc: 15, unit, address, values }),
    writeRegisters: (unit, address, values) => enqueue<void>({ fc: 16, unit, address, values }),
    get stats () { return { ...stats } },
    close () {
      closed = true
      unsubscribe()
      const closedError = (job: Job): OutpostError => new OutpostError('UNAVAILABLE', `${describeRequest(job.req)}: the modbus master was closed`)
      for (const job of calls.splice(0)) job.reject(closedError(job))
      for (const job of background.splice(0)) job.reject(closedError(job))
    },
  }
}
