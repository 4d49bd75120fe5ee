/// <reference lib="dom" />
// A CBOR decoder (RFC 8949) for what the gateway publishes: hooks, state and presence documents are CBOR
// (docs/protocol.md). Plain data only: integers (64-bit ones as numbers, exact to 2^53), floats of 16, 32
// and 64 bits, byte and text strings (definite and indefinite), arrays, maps, true/false/null/undefined;
// a tag's content is returned as is. Requests are sent as JSON (the gateway answers JSON with JSON), so the
// page needs no encoder.

const MAX_DEPTH = 64 // as the gateway's own limit (docs/protocol.md, "Limits")
const utf8 = new TextDecoder('utf-8', { fatal: true })

export function decodeCbor (bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new Error('CBOR: truncated')
  }
  const argument = (info: number): number => {
    if (info < 24) return info
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0) throw new Error(`CBOR: additional information ${info} is not a length`)
    need(size)
    const value = size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : size === 4 ? view.getUint32(at) : Number(view.getBigUint64(at))
    at += size
    return value
  }
  const chunks = (major: number, info: number): Uint8Array => {
    if (info !== 31) {
      const length = argument(info)
      need(length)
      at += length
      return bytes.subarray(at - length, at)
    }
    const parts: Uint8Array[] = []
    while (bytes[at] !== 0xff) {
      need(1)
      const head = bytes[at++] as number
      if (head >> 5 !== major) throw new Error('CBOR: a chunk of another type in an indefinite string')
      parts.push(chunks(major, head & 31))
    }
    at++
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let i = 0
    for (const p of parts) {
      out.set(p, i)
      i += p.length
    }
    return out
  }
  const item = (depth: number): unknown => {
    if (depth > MAX_DEPTH) throw new Error('CBOR: nested too deep')
    need(1)
    const head = bytes[at++] as number
    const major = head >> 5
    const info = head & 31
    switch (major) {
      case 0: return argument(info)
      case 1: return -1 - argument(info)
      case 2: return chunks(2, info)
      case 3: return utf8.decode(chunks(3, info))
      case 4: {
        const list: unknown[] = []
        if (info === 31) {
          while (bytes[at] !== 0xff) list.push(item(depth + 1))
          at++
        } else for (let n = argument(info); n > 0; n--) list.push(item(depth + 1))
        return list
      }
      case 5: {
        const map: Record<string, unknown> = {}
        const entry = (): void => {
          const key = item(depth + 1)
          Object.defineProperty(map, String(key), { value: item(depth + 1), enumerable: true, writable: true, configurable: true })
        }
        if (info === 31) {
          while (bytes[at] !== 0xff) entry()
          at++
        } else for (let n = argument(info); n > 0; n--) entry()
        return map
      }
      case 6:
        argument(info) // the tag number: its content is returned as is
        return item(depth + 1)
      default: {
        if (info === 20) return false
        if (info === 21) return true
        if (info === 22) return null
        if (info === 23) return undefined
        if (info === 25) {
          need(2)
          const half = view.getUint16(at)
          at += 2
          const exponent = (half >> 10) & 0x1f
          const fraction = half & 0x3ff
          const sign = half & 0x8000 ? -1 : 1
          if (exponent === 0) return sign * fraction * 2 ** -24
          if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN
          return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
        }
        if (info === 26) {
          need(4)
          at += 4
          return view.getFloat32(at - 4)
        }
        if (info === 27) {
          need(8)
          at += 8
          return view.getFloat64(at - 8)
        }
        if (info < 24) return undefined // an unassigned simple value
        throw new Error(`CBOR: unknown simple value ${info}`)
      }
    }
  }
  const value = item(0)
  if (at !== bytes.length) throw new Error('CBOR: bytes after the item')
  return value
}
