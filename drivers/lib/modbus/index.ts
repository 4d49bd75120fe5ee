// Modbus RTU: frames, CRC and a master. `serialTransport` plugs the master into a managed serial port.
import type { ManagedSerial } from '../serial/index.js'
import type { ModbusTransport } from './master.js'

export { crc16, withCrc, checkCrc } from './crc.js'
export { FunctionCode, exceptionNames, encodeRequest, responseLength, parseResponse, checkRequest, describeRequest } from './frame.js'
export type { ModbusRequest, ParsedResponse } from './frame.js'
export { createModbusMaster, interFrameGapMs } from './master.js'
export type { CallOptions, ModbusMaster, ModbusMasterOptions, ModbusMasterStats, ModbusTransport } from './master.js'

/** a managed serial port opened with `{ type: 'raw' }` framing, as a Modbus transport */
export function serialTransport (serial: ManagedSerial<Buffer>): ModbusTransport {
  return {
    write: data => serial.write(data),
    onData: listener => serial.on('frame', listener),
  }
}
