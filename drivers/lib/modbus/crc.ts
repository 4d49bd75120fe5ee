// CRC-16/MODBUS: reflected polynomial 0xA001, initial value 0xFFFF, sent low byte first.

const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let n = 0; n < 256; n++) {
    let crc = n
    for (let bit = 0; bit < 8; bit++) crc = (crc & 1) !== 0 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
    table[n] = crc
  }
  return table
})()

/** the CRC of `data` as a number (check value: "123456789" → 0x4B37) */
export function crc16 (data: Uint8Array): number {
  let crc = 0xffff
  for (const byte of data) crc = (crc >>> 8) ^ (TABLE[(crc ^ byte) & 0xff] ?? 0)
  return crc
}

/** `data` followed by its CRC, low byte first, as it goes on the wire */
export function withCrc (data: Uint8Array): Buffer {
  const out = Buffer.alloc(data.length + 2)
  out.set(data)
  out.writeUInt16LE(crc16(data), data.length)
  return out
}

/** whether a whole frame (CRC included) carries a correct CRC */
export function checkCrc (frame: Uint8Array): boolean {
  if (frame.length < 3) return false
  const body = frame.subarray(0, frame.length - 2)
  const crc = crc16(body)
  return frame[frame.length - 2] === (crc & 0xff) && frame[frame.length - 1] === crc >>> 8
}
