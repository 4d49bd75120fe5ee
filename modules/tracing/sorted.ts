// A sorted list of distinct items: an array of sorted chunks of at most CHUNK items. Inserting or deleting
// costs two binary searches and a splice within one chunk, wherever the item goes, so items arriving nearly
// in order (at the end) and leaving from the start are cheap alike, where one flat array would move all its
// items on every delete at the start. Reading from either end costs the items read.

/** the longest chunk: a splice in it moves at most this many slots; a full one is split in two */
const CHUNK = 256

/** where an item is, until the list next changes */
export interface Place { chunk: number, index: number }

export interface Sorted<T> {
  readonly size: number
  insert (item: T): void
  /** whether `item` (compared equal) was there */
  delete (item: T): boolean
  find (item: T): Place | undefined
  /** the item at `place` has become less (nothing else changed since `find`): moves it if it must */
  lowered (place: Place): void
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

  /** the chunk `item` belongs in: the first whose last item is not below it, else the last */
  const chunkFor = (item: T): number => {
    // most items sought are among the newest: past every chunk but the last, no search
    const last = chunks.length - 1
    if (last > 0 && compare((chunks[last - 1] as T[]).at(-1) as T, item) < 0) return last
    let low = 0
    let high = last
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

  const remove = ({ chunk: c, index: i }: Place): void => {
    const chunk = chunks[c] as T[]
    chunk.splice(i, 1)
    if (chunk.length === 0) chunks.splice(c, 1)
    size--
  }

  return {
    get size () { return size },

    insert (item) {
      size++
      if (chunks.length === 0) {
        chunks.push([item])
        return
      }
      const c = chunkFor(item)
      const chunk = chunks[c] as T[]
      chunk.splice(indexIn(chunk, item), 0, item)
      if (chunk.length > CHUNK) chunks.splice(c + 1, 0, chunk.splice(CHUNK / 2))
    },

    delete (item) {
      const place = this.find(item)
      if (place === undefined) return false
      remove(place)
      return true
    },

    find (item) {
      const c = chunkFor(item)
      const chunk = chunks[c]
      if (chunk === undefined) return undefined
      const i = indexIn(chunk, item)
      return i < chunk.length && compare(chunk[i] as T, item) === 0 ? { chunk: c, index: i } : undefined
    },

    lowered ({ chunk: c, index: i }) {
      const chunk = chunks[c] as T[]
      const item = chunk[i] as T
      const before = i > 0 ? chunk[i - 1] : chunks[c - 1]?.at(-1)
      // most often it stays: a span that starts before its trace's others is still after the traces before it
      if (before === undefined || compare(before, item) < 0) return
      remove({ chunk: c, index: i })
      this.insert(item)
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
