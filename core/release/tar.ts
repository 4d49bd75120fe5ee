// A reader for the release bundle's tar (ustar, gzip), written here rather than handing the bundle to the
// system's tar: what it checks is exactly what it writes. Only regular files and folders pass (no links,
// devices, FIFOs or extension headers), every path stays inside one top folder (no "/" start, no "." or
// ".." part), and sizes are bounded as the stream is read, so a bundle cannot write outside its folder or
// fill the disk.
import { closeSync, constants, mkdirSync, openSync, statfsSync, writeSync } from 'node:fs'
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { createGunzip } from 'node:zlib'
import { OutpostError } from '../errors.js'

export interface TarEntry {
  /** the path below the top folder, "/"-separated; "" for the top folder itself */
  path: string
  type: 'file' | 'dir'
  size: number
  mode: number
}

export interface TarLimits {
  /** the sum of the files' sizes */
  maxUnpackedBytes: number
  maxEntries: number
}

const BLOCK = 512

function field (header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length)
  const end = raw.indexOf(0)
  return raw.subarray(0, end === -1 ? length : end).toString('utf8')
}

function octal (header: Buffer, start: number, length: number, what: string, file: string): number {
  const text = field(header, start, length).trim()
  if (!/^[0-7]+$/.test(text)) throw new OutpostError('RELEASE_INVALID', `${file}: a tar header's ${what} is not an octal number`)
  return parseInt(text, 8)
}

function checksumOk (header: Buffer, stored: number): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i] ?? 0
  return sum === stored
}

const KINDS: Record<string, string> = { 1: 'hard link', 2: 'symbolic link', 3: 'character device', 4: 'block device', 6: 'FIFO', x: 'pax header', g: 'pax header', L: 'GNU long name', K: 'GNU long link' }

/** splits an entry name into its top folder and the path below it, refusing anything that could leave it */
function splitName (name: string, file: string): { top: string, rest: string } {
  const parts = name.replace(/\/+$/, '').split('/')
  if (name.startsWith('/') || parts.some(p => p === '' || p === '.' || p === '..') || name.includes('\0')) {
    throw new OutpostError('RELEASE_INVALID', `${file}: entry "${name}" is not a plain relative path inside the bundle's folder`)
  }
  return { top: parts[0] ?? '', rest: parts.slice(1).join('/') }
}

/**
 * After the end-of-archive marker (two zero blocks) only zeros may follow, and at most this many bytes of them:
 * tar pads an archive to its record size (10240 bytes by default, GNU tar and Python's tarfile alike; this
 * allows a blocking factor up to 128). Anything else there, or more, refuses the bundle.
 */
export const MAX_TRAILING_ZERO_BYTES = 64 * 1024

/**
 * The most a bundle may decompress to: its files' bytes (`maxUnpackedBytes`), a header and at most a block of
 * padding per entry, the end marker and the padding after it. Every byte gunzip gives counts, so a gzip bomb
 * is stopped here whatever it holds and wherever it lies.
 */
export function maxDecompressedBytes (limits: TarLimits): number {
  return limits.maxUnpackedBytes + limits.maxEntries * 2 * BLOCK + 2 * BLOCK + MAX_TRAILING_ZERO_BYTES
}

/**
 * Reads a gzip'd ustar file entry by entry. `onEntry` is called for each header; `onData` with each piece
 * of the current file's body (a view of gunzip's chunk: nothing is copied but a header split across two
 * chunks). Reading stops at the end marker and what may follow it (MAX_TRAILING_ZERO_BYTES of zeros).
 * Returns the one top folder's name.
 */
export async function readTar (file: string, limits: TarLimits, onEntry: (entry: TarEntry) => void, onData: (chunk: Buffer) => void): Promise<string> {
  let top: string | undefined
  const header = Buffer.alloc(BLOCK) // the block being read, which may span two chunks
  let have = 0 // bytes of it read so far
  let remaining = 0 // body bytes of the current file still to come
  let padding = 0
  let entries = 0
  let unpacked = 0
  let zeroBlocks = 0 // zero blocks in a row: two are the end marker
  let trailing = 0 // bytes read after the end marker
  let decompressed = 0
  const ceiling = maxDecompressedBytes(limits)
  const source = createReadStream(file)
  const input = source.pipe(createGunzip())
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      decompressed += chunk.length
      if (decompressed > ceiling) throw new OutpostError('RELEASE_INVALID', `${file}: decompresses to more than ${ceiling} bytes (its files may hold ${limits.maxUnpackedBytes})`)
      let at = 0
      while (at < chunk.length) {
        if (zeroBlocks === 2) {
          const rest = chunk.subarray(at)
          trailing += rest.length
          if (trailing > MAX_TRAILING_ZERO_BYTES) throw new OutpostError('RELEASE_INVALID', `${file}: more than ${MAX_TRAILING_ZERO_BYTES} bytes follow the tar's end marker`)
          if (rest.some(b => b !== 0)) throw new OutpostError('RELEASE_INVALID', `${file}: data follows the tar's end marker (only zero padding may)`)
          break
        }
        if (remaining > 0) {
          const piece = chunk.subarray(at, at + Math.min(remaining, chunk.length - at))
          onData(piece)
          remaining -= piece.length
          at += piece.length
          continue
        }
        if (padding > 0) {
          const skip = Math.min(padding, chunk.length - at)
          padding -= skip
          at += skip
          continue
        }
        const take = Math.min(BLOCK - have, chunk.length - at)
        chunk.copy(header, have, at, at + take)
        have += take
        at += take
        if (have < BLOCK) break
        have = 0
        if (header.every(b => b === 0)) {
          zeroBlocks++
          continue
        }
        if (zeroBlocks > 0) throw new OutpostError('RELEASE_INVALID', `${file}: a lone zero block before entry ${entries + 1} (a tar ends with two)`)
        if (!checksumOk(header, octal(header, 148, 8, 'checksum', file))) throw new OutpostError('RELEASE_INVALID', `${file}: a tar header's checksum is wrong (entry ${entries + 1})`)
        const magic = field(header, 257, 6)
        const prefix = magic === 'ustar' ? field(header, 345, 155) : ''
        const name = prefix === '' ? field(header, 0, 100) : `${prefix}/${field(header, 0, 100)}`
        const flag = String.fromCharCode(header[156] ?? 0)
        const type = flag === '0' || flag === '\0' ? 'file' : flag === '5' ? 'dir' : undefined
        if (type === undefined) throw new OutpostError('RELEASE_INVALID', `${file}: entry "${name}" is a ${KINDS[flag] ?? `tar entry of type "${flag}"`}; a bundle holds only files and folders`)
        const where = splitName(name, file)
        if (top === undefined) top = where.top
        else if (where.top !== top) throw new OutpostError('RELEASE_INVALID', `${file}: entry "${name}" lies outside the bundle's folder ${top}/`)
        const size = type === 'file' ? octal(header, 124, 12, 'size', file) : 0
        if (++entries > limits.maxEntries) throw new OutpostError('RELEASE_INVALID', `${file}: more than ${limits.maxEntries} entries`)
        unpacked += size
        if (unpacked > limits.maxUnpackedBytes) throw new OutpostError('RELEASE_INVALID', `${file}: unpacks to more than ${limits.maxUnpackedBytes} bytes`)
        onEntry({ path: where.rest, type, size, mode: octal(header, 100, 8, 'mode', file) })
        remaining = size
        padding = (BLOCK - (size % BLOCK)) % BLOCK
      }
    }
  } catch (err) {
    if (err instanceof OutpostError) throw err
    throw new OutpostError('RELEASE_INVALID', `${file}: not a gzip'd tar (${(err as Error).message})`)
  } finally {
    input.destroy()
    source.destroy()
  }
  if (zeroBlocks < 2 || top === undefined) throw new OutpostError('RELEASE_INVALID', `${file}: the tar ends early (truncated?)`)
  return top
}

/** free bytes a bundle must leave on the filesystem it unpacks to */
export const DISK_RESERVE_BYTES = 64 * 1024 * 1024

/**
 * Unpacks a bundle into `dest` (which must not exist): folders 0755, files 0644 or 0755, each created new
 * (O_EXCL, O_NOFOLLOW), never through a link. Stops before a file that would leave less than
 * DISK_RESERVE_BYTES free. Returns the top folder's name.
 */
export async function unpackTar (file: string, dest: string, limits: TarLimits): Promise<string> {
  mkdirSync(dest, { mode: 0o755 })
  let fd: number | undefined
  const close = (): void => {
    if (fd !== undefined) closeSync(fd)
    fd = undefined
  }
  try {
    return await readTar(file, limits, entry => {
      close()
      const target = path.join(dest, ...entry.path.split('/'))
      if (entry.type === 'dir') {
        if (entry.path !== '') mkdirSync(target, { mode: 0o755, recursive: true })
        return
      }
      const fs = statfsSync(dest)
      if (fs.bavail * fs.bsize - entry.size < DISK_RESERVE_BYTES) throw new OutpostError('RELEASE_INVALID', `${file}: not enough disk space for ${entry.path} (${entry.size} bytes) beside the ${DISK_RESERVE_BYTES} bytes kept free`)
      mkdirSync(path.dirname(target), { mode: 0o755, recursive: true })
      fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, (entry.mode & 0o111) === 0 ? 0o644 : 0o755)
    }, chunk => {
      if (fd !== undefined) writeSync(fd, chunk)
    })
  } finally {
    close()
  }
}
