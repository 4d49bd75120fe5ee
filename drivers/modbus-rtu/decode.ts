// Registers (unsigned 16-bit words) as the values a device means: signed, 32-bit, float, scaled.

export type RegisterType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32'

export interface Decoding {
  type?: RegisterType | undefined
  wordOrder?: 'big' | 'little' | undefined
  scale?: number | undefined
}

function word32 (high: number, low: number, type: 'uint32' | 'int32' | 'float32'): number {
  const bytes = Buffer.alloc(4)
  bytes.writeUInt16BE(high, 0)
  bytes.writeUInt16BE(low, 2)
  return type === 'uint32' ? bytes.readUInt32BE(0) : type === 'int32' ? bytes.readInt32BE(0) : bytes.readFloatBE(0)
}

export function decodeRegisters (registers: number[], { type = 'uint16', wordOrder = 'big', scale }: Decoding): number[] {
  let values: number[]
  if (type === 'uint16') values = registers
  else if (type === 'int16') values = registers.map(r => (r >= 0x8000 ? r - 0x10000 : r))
  else {
    // callers refuse odd counts (args.ts, schema.ts): a register left over would be dropped without a word
    if (registers.length % 2 !== 0) throw new RangeError(`${type} needs an even number of registers, not ${registers.length}`)
    values = []
    for (let i = 0; i + 1 < registers.length; i += 2) {
      const [a = 0, b = 0] = [registers[i], registers[i + 1]]
      values.push(wordOrder === 'big' ? word32(a, b, type) : word32(b, a, type))
    }
  }
  // 12 significant digits: 215 × 0.1 is 21.5, not 21.500000000000004
  return scale === undefined ? values : values.map(v => Number((v * scale).toPrecision(12)))
}
