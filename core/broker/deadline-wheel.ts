// Deadlines in buckets of one granule each, for the RPC router's held calls: adding and removing one is a Set
// operation (both on the broker's hot path, once per request and once per reply), and the one timer is set for
// the earliest bucket only. Each item expires at the first granule boundary at or after its deadline, so at
// most one granule late (plus the event loop's own delay), never early.

/** where an item was put: hand it back to remove it */
export type Bucket<T> = Set<T>

export interface DeadlineWheel<T> {
  add (item: T, deadline: number): Bucket<T>
  remove (item: T, bucket: Bucket<T>): void
  /** items held, expired ones not yet reached included */
  readonly size: number
  stop (): void
}

export interface WheelOptions<T> {
  /** bucket width, ms */
  granuleMs: number
  /** the clock deadlines are on, ms */
  now (): number
  /** called once per item whose deadline has passed (it is out of the wheel by then) */
  expire (item: T): void
}

export function createDeadlineWheel<T> (options: WheelOptions<T>): DeadlineWheel<T> {
  const { granuleMs, now, expire } = options
  const buckets = new Map<number, Bucket<T>>() // granule index (its end is index × granuleMs) → items
  let size = 0
  let timer: NodeJS.Timeout | undefined
  let armedFor = Infinity // the index the timer fires for

  const arm = (index: number): void => {
    if (timer !== undefined) clearTimeout(timer)
    armedFor = index
    timer = setTimeout(fire, Math.max(1, index * granuleMs - now()))
    timer.unref() // a held call does not keep the process alive
  }

  function fire (): void {
    timer = undefined
    armedFor = Infinity
    const reached = Math.floor(now() / granuleMs)
    let next = Infinity
    for (const [index, bucket] of buckets) {
      if (index > reached && bucket.size > 0) {
        next = Math.min(next, index)
        continue
      }
      buckets.delete(index) // emptied by removals, or due
      for (const item of bucket) {
        bucket.delete(item) // out before expire() sees it: a remove() from there is a no-op
        size--
        expire(item)
      }
    }
    // the scan sees only the buckets that had something since the last firing: at most one per granule of
    // the longest timeout, and a firing at most per granule. Expire may have added some: add() armed for those.
    if (next < armedFor) arm(next)
  }

  return {
    add (item, deadline) {
      const index = Math.ceil(deadline / granuleMs)
      let bucket = buckets.get(index)
      if (bucket === undefined) buckets.set(index, bucket = new Set())
      bucket.add(item)
      size++
      // a timer left set for a bucket since emptied still fires once (and finds the next): not cleared on every
      // last reply, so a caller making one call at a time does not set and clear a timer per call
      if (index < armedFor) arm(index)
      return bucket
    },

    remove (item, bucket) {
      // an emptied bucket stays until the next firing: a caller making one call at a time reuses it, with
      // no Set made and dropped per call
      if (bucket.delete(item)) size--
    },

    get size () {
      return size
    },

    stop () {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      armedFor = Infinity
      buckets.clear()
      size = 0
    },
  }
}
