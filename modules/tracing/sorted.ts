// A sorted list of distinct items: an array of sorted chunks of at most CHUNK items. Inserting or deleting
// costs two binary searches and a splice within one chunk, wherever the item goes, so items arriving nearly
// in order (at the end) and leaving from the start are cheap alike, where one flat array would move all its
// items on every delete at the start. Reading from either end costs the items read.

/** the longest chunk: a splice in it moves at most this many slots; a full one is split in two */
const CHUNK = 256

export interface Sorted<T> {
  readonly size: number
  insert (item: T): void
  /** whether `item` (compared equal) was there */
  delete (item: T): boolean
  /** the least, if any */
  first (): T | undefined
  /** the greatest first */
  descending (): Generator<T>
}

/** `compare` orders items and says 0 only for the same item */
export function createSorted<T> (compare: (a: T, b: T) => number): Sorted<T> {
  // chunks are never empty; their count stays below the item count, so memory is bounded by the items
  const chunks: T[][] = []
  let size = 0

  /** the first chunk whose last item is not below `item`, or chunks.length */
  const chunkFor = (item: T): number => {
    let low = 0
    let high = chunks.length
    while (low < high) {
      const mid = (low + high) >>> 1
      const chunk = chunks[mid] as T[]
      if (compare(chunk[chunk.length - 1] as T, item) < 0) low = mid + 1
      else high = mid
    }
    return low
  }
  /** the first index in `chunk` whose item is not below `item` */
  const indexIn = (chunk: T[], item: T): number => {
    let low = 0
    let high = chunk.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (compare(chunk[mid] as T, item) < 0) low = mid + 1
      else high = mid
    }
    return low
  }

  return {
    get size () { return size },

    insert (item) {
      size++
      if (chunks.length === 0) {
        chunks.push([item])
        return
      }
      // past the last item: it goes at the end of the last chunk
      const c = Math.min(chunkFor(item), chunks.length - 1)
      const chunk = chunks[c] as T[]
      chunk.splice(indexIn(chunk, item), 0, item)
      if (chunk.length > CHUNK) chunks.splice(c + 1, 0, chunk.splice(CHUNK / 2))
    },

    delete (item) {
      const c = chunkFor(item)
      const chunk = chunks[c]
      if (chunk === undefined) return false
      const i = indexIn(chunk, item)
      if (i === chunk.length || compare(chunk[i] as T, item) !== 0) return false
      chunk.splice(i, 1)
      if (chunk.length === 0) chunks.splice(c, 1)
      size--
      return true
    },

    first () {
      return chunks[0]?.[0]
    },

    * descending () {
      for (let c = chunks.length - 1; c >= 0; c--) {
        const chunk = chunks[c] as T[]
        for (let i = chunk.length - 1; i >= 0; i--) yield chunk[i] as T
      }
    },
  }
}
