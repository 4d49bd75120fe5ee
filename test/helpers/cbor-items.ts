// Reads CBOR as its items [RFC 8949 §3], not as JavaScript values: what a test needs to see how a number
// travels (major type 0 integer or major type 7 float), which a decoder hides. Definite and indefinite
// lengths, tags passed through; enough for the protocol's envelopes, not a general decoder.

export interface Item {
  /** major type 0–7 [RFC 8949 §3.1] */
  major: number
  /** additional information: for major type 0, 24–27 say 1, 2, 4 or 8 bytes follow; for major type 7, 25–27 a float */
  info: number
  /** integers, text and floats: their value; other items: undefined */
  value?: number | bigint | string
  /** a map's entries by (text) key */
  entries?: Map<string, Item>
  items?: Item[]
}

function read (bytes: Buffer, at: number): { item: Item, end: number } {
  const first = bytes[at]
  if (first === undefined) throw new Error(`CBOR ends at byte ${at}`)
  const major = first >> 5
  const info = first & 0x1f
  let argument: number | bigint = info
  let next = at + 1
  if (info === 24) { argument = bytes.readUInt8(next); next += 1 } else if (info === 25) { argument = bytes.readUInt16BE(next); next += 2 } else if (info === 26) { argument = bytes.readUInt32BE(next); next += 4 } else if (info === 27) { argument = bytes.readBigUInt64BE(next); next += 8 } else if (info > 27 && info !== 31) throw new Error(`reserved additional information ${info} at byte ${at}`)
  const count = info === 31 ? Number.POSITIVE_INFINITY : Number(argument)
  const isBreak = (): boolean => info === 31 && bytes[next] === 0xff
  switch (major) {
    case 0: return { item: { major, info, value: argument }, end: next }
    case 1: return { item: { major, info, value: typeof argument === 'bigint' ? -1n - argument : -1 - argument }, end: next }
    case 2: return { item: { major, info }, end: next + count }
    case 3: return { item: { major, info, value: bytes.toString('utf8', next, next + count) }, end: next + count }
    case 4: {
      const items: Item[] = []
      for (let i = 0; i < count && !isBreak(); i++) {
        const r = read(bytes, next)
        items.push(r.item)
        next = r.end
      }
      return { item: { major, info, items }, end: info === 31 ? next + 1 : next }
    }
    case 5: {
      const entries = new Map<string, Item>()
      for (let i = 0; i < count && !isBreak(); i++) {
        const key = read(bytes, next)
        const value = read(bytes, key.end)
        entries.set(String(key.item.value), value.item)
        next = value.end
      }
      return { item: { major, info, entries }, end: info === 31 ? next + 1 : next }
    }
    case 6: return read(bytes, next)
    default: {
      if (info === 25) return { item: { major, info, value: bytes.readUInt16BE(at + 1) }, end: next } // half float, raw bits
      if (info === 26) return { item: { major, info, value: bytes.readFloatBE(at + 1) }, end: next }
      if (info === 27) return { item: { major, info, value: bytes.readDoubleBE(at + 1) }, end: next }
      return { item: { major, info }, end: next }
    }
  }
}

export function cborItem (bytes: Buffer): Item {
  const { item, end } = read(bytes, 0)
  if (end !== bytes.length) throw new Error(`${bytes.length - end} bytes after the CBOR item`)
  return item
}

/** the item at a path of map keys and array indexes, e.g. at(doc, 'instances', 0, 'since') */
export function at (item: Item, ...path: Array<string | number>): Item {
  let here = item
  for (const step of path) {
    const next = typeof step === 'number' ? here.items?.[step] : here.entries?.get(step)
    if (next === undefined) throw new Error(`no item at ${path.join('.')} (stopped at ${String(step)})`)
    here = next
  }
  return here
}
