// Modbus RTU frames: requests built from plain data, responses checked against the request that asked.
// The length of a response follows from its first bytes, so frames are cut from a byte stream by content,
// not by guessing silences from the timing of chunks (which a USB adapter or a PTY does not preserve).
import { OutpostError } from '../../../core/errors.js'
import { withCrc } from './crc.js'

export const FunctionCode = {
  READ_COILS: 1,
  READ_DISCRETE_INPUTS: 2,
  READ_HOLDING_REGISTERS: 3,
  READ_INPUT_REGISTERS: 4,
  WRITE_SINGLE_COIL: 5,
  WRITE_SINGLE_REGISTER: 6,
  WRITE_MULTIPLE_COILS: 15,
  WRITE_MULTIPLE_REGISTERS: 16,
} as const

export type ModbusRequest =
  | { fc: 1 | 2 | 3 | 4, unit: number, address: number, count: number }
  | { fc: 5, unit: number, address: number, value: boolean }
  | { fc: 6, unit: number, address: number, value: number }
  | { fc: 15, unit: number, address: number, values: boolean[] }
  | { fc: 16, unit: number, address: number, values: number[] }

/** what a response carried: values for reads, nothing for writes (their echo has been checked) */
export type ParsedResponse =
  | { kind: 'ok', values?: boolean[] | number[] }
  | { kind: 'exception', code: number }
  /** a well-formed frame with a good CRC that is not the answer to this request (a late or foreign one) */
  | { kind: 'mismatch', why: string }

export const exceptionNames: Readonly<Record<number, string>> = {
  1: 'ILLEGAL FUNCTION',
  2: 'ILLEGAL DATA ADDRESS',
  3: 'ILLEGAL DATA VALUE',
  4: 'SLAVE DEVICE FAILURE',
  5: 'ACKNOWLEDGE',
  6: 'SLAVE DEVICE BUSY',
  7: 'NEGATIVE ACKNOWLEDGE',
  8: 'MEMORY PARITY ERROR',
  10: 'GATEWAY PATH UNAVAILABLE',
  11: 'GATEWAY TARGET DEVICE FAILED TO RESPOND',
}

const NAMES: Record<ModbusRequest['fc'], string> = {
  1: 'read coils',
  2: 'read discrete inputs',
  3: 'read holding registers',
  4: 'read input registers',
  5: 'write coil',
  6: 'write register',
  15: 'write coils',
  16: 'write registers',
}

/** e.g. "read holding registers 100..109 of unit 1" */
export function describeRequest (req: ModbusRequest): string {
  const count = 'count' in req ? req.count : 'values' in req ? req.values.length : 1
  const range = count === 1 ? `${req.address}` : `${req.address}..${req.address + count - 1}`
  return `${NAMES[req.fc]} ${range} of unit ${req.unit}`
}

const LIMITS: Record<ModbusRequest['fc'], number> = { 1: 2000, 2: 2000, 3: 125, 4: 125, 5: 1, 6: 1, 15: 1968, 16: 123 }

/** throws BAD_ARGUMENTS for a request no slave could accept (the protocol's own limits) */
export function checkRequest (req: ModbusRequest): void {
  const bad = (why: string): never => {
    throw new OutpostError('BAD_ARGUMENTS', `modbus ${NAMES[req.fc] ?? `function ${String(req.fc)}`}: ${why}`, { details: { ...req } })
  }
  if (!(req.fc in NAMES)) bad('unsupported function code')
  const isWrite = req.fc >= 5
  if (!Number.isInteger(req.unit) || req.unit < (isWrite ? 0 : 1) || req.unit > 247) bad(`unit must be ${isWrite ? 0 : 1}..247 (0 is broadcast, for writes only), not ${req.unit}`)
  const count = 'count' in req ? req.count : 'values' in req ? req.values.length : 1
  if (!Number.isInteger(count) || count < 1 || count > LIMITS[req.fc]) bad(`count must be 1..${LIMITS[req.fc]}, not ${count}`)
  if (!Number.isInteger(req.address) || req.address < 0 || req.address + count > 0x10000) bad(`addresses ${req.address}..${req.address + count - 1} are outside 0..65535`)
  const registers = req.fc === 6 ? [req.value] : req.fc === 16 ? req.values : []
  for (const value of registers) if (!Number.isInteger(value) || value < 0 || value > 0xffff) bad(`register value ${value} is not 0..65535`)
  const coils = req.fc === 5 ? [req.value] : req.fc === 15 ? req.values : []
  for (const value of coils) if (typeof value !== 'boolean') bad(`coil value ${String(value)} is not a boolean`)
}

function packBits (values: boolean[]): Buffer {
  const bytes = Buffer.alloc(Math.ceil(values.length / 8))
  values.forEach((on, i) => { if (on) bytes[i >> 3] = (bytes[i >> 3] ?? 0) | (1 << (i & 7)) })
  return bytes
}

/** the request as it goes on the wire: unit, PDU, CRC */
export function encodeRequest (req: ModbusRequest): Buffer {
  checkRequest(req)
  let pdu: Buffer
  switch (req.fc) {
    case 1: case 2: case 3: case 4:
      pdu = Buffer.alloc(5)
      pdu.writeUInt16BE(req.address, 1)
      pdu.writeUInt16BE(req.count, 3)
      break
    case 5:
      pdu = Buffer.alloc(5)
      pdu.writeUInt16BE(req.address, 1)
      pdu.writeUInt16BE(req.value ? 0xff00 : 0x0000, 3)
      break
    case 6:
      pdu = Buffer.alloc(5)
      pdu.writeUInt16BE(req.address, 1)
      pdu.writeUInt16BE(req.value, 3)
      break
    case 15: {
      const bits = packBits(req.values)
      pdu = Buffer.alloc(6 + bits.length)
      pdu.writeUInt16BE(req.address, 1)
      pdu.writeUInt16BE(req.values.length, 3)
      pdu[5] = bits.length
      bits.copy(pdu, 6)
      break
    }
    case 16:
      pdu = Buffer.alloc(6 + req.values.length * 2)
      pdu.writeUInt16BE(req.address, 1)
      pdu.writeUInt16BE(req.values.length, 3)
      pdu[5] = req.values.length * 2
      req.values.forEach((value, i) => { pdu.writeUInt16BE(value, 6 + i * 2) })
      break
  }
  pdu[0] = req.fc
  return withCrc(Buffer.concat([Buffer.from([req.unit]), pdu]))
}

/**
 * The length of the response frame starting at `head[0]` (unit, function, …, CRC), or undefined while
 * too few bytes are there to tell. Exceptions are 5 bytes; reads carry their byte count in byte 2; write
 * answers are 8-byte echoes.
 */
export function responseLength (head: Uint8Array): number | undefined {
  const fc = head[1]
  if (fc === undefined) return undefined
  if ((fc & 0x80) !== 0) return 5
  if (fc >= 1 && fc <= 4) {
    const byteCount = head[2]
    return byteCount === undefined ? undefined : 3 + byteCount + 2
  }
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8
  return undefined
}

/** reads a whole response frame (CRC already checked) against its request */
export function parseResponse (req: ModbusRequest, frame: Buffer): ParsedResponse {
  if (frame[0] !== req.unit) return { kind: 'mismatch', why: `unit ${frame[0]} answered, not ${req.unit}` }
  const fc = frame[1] ?? 0
  if (fc === (req.fc | 0x80)) return { kind: 'exception', code: frame[2] ?? 0 }
  if (fc !== req.fc) return { kind: 'mismatch', why: `function ${fc} answered, not ${req.fc}` }
  switch (req.fc) {
    case 1: case 2: {
      const byteCount = Math.ceil(req.count / 8)
      if (frame[2] !== byteCount) return { kind: 'mismatch', why: `${frame[2]} data bytes for ${req.count} bits` }
      const values = Array.from({ length: req.count }, (_, i) => (((frame[3 + (i >> 3)] ?? 0) >> (i & 7)) & 1) === 1)
      return { kind: 'ok', values }
    }
    case 3: case 4: {
      if (frame[2] !== req.count * 2) return { kind: 'mismatch', why: `${frame[2]} data bytes for ${req.count} registers` }
      const values = Array.from({ length: req.count }, (_, i) => frame.readUInt16BE(3 + i * 2))
      return { kind: 'ok', values }
    }
    case 5: case 6: {
      const expected = req.fc === 5 ? (req.value ? 0xff00 : 0) : req.value
      if (frame.readUInt16BE(2) !== req.address || frame.readUInt16BE(4) !== expected) {
        return { kind: 'mismatch', why: `echo ${frame.readUInt16BE(2)}=${frame.readUInt16BE(4)} does not match ${req.address}=${expected}` }
      }
      return { kind: 'ok' }
    }
    case 15: case 16: {
      if (frame.readUInt16BE(2) !== req.address || frame.readUInt16BE(4) !== req.values.length) {
        return { kind: 'mismatch', why: `echo of ${frame.readUInt16BE(4)} at ${frame.readUInt16BE(2)} does not match ${req.values.length} at ${req.address}` }
      }
      return { kind: 'ok' }
    }
  }
}

export function exceptionError (req: ModbusRequest, code: number): OutpostError {
  const name = exceptionNames[code] ?? 'UNKNOWN EXCEPTION'
  return new OutpostError('MODBUS_EXCEPTION', `${describeRequest(req)}: the slave answered exception ${code} (${name})`, {
    details: { unit: req.unit, fc: req.fc, address: req.address, exception: code, exceptionName: name },
  })
}
