// Management operations run one at a time per module, never behind another module's: a start waiting on a
// module that never becomes ready holds only that module's queue. Every operation has a deadline: past it
// the caller is answered TIMEOUT saying what the operation was waiting for (the work itself goes on, and the
// module's next operation runs once it is done). When the gateway stops, whatever is still queued is
// answered instead of run.
import { OutpostError } from '../errors.js'

/** operations waiting per module (besides the one running): a caller flooding one module is refused past it */
export const MAX_QUEUED = 16

export interface OpQueues {
  /**
   * Runs `job` once the operations queued before it for `key` (a module name) are done. Rejects with TIMEOUT
   * past `deadlineMs` from now, the message naming `waitingFor()` at that moment.
   */
  run<T> (key: string, op: string, deadlineMs: number, waitingFor: () => string, job: () => Promise<T>): Promise<T>
  /** answers every operation still queued (for one module, or for all) with `error`; running ones finish */
  cancel (error: OutpostError, key?: string): void
  /** what runs for `key` now, e.g. "start" */
  running (key: string): string | undefined
}

interface Waiting {
  op: string
  start (): void
  fail (error: OutpostError): void
}

interface Queue {
  running: string | undefined
  waiting: Waiting[]
}

export function createOpQueues (): OpQueues {
  const queues = new Map<string, Queue>()

  const next = (key: string, queue: Queue): void => {
    const job = queue.waiting.shift()
    if (job === undefined) {
      queue.running = undefined
      queues.delete(key)
      return
    }
    queue.running = job.op
    job.start()
  }

  return {
    run (key, op, deadlineMs, waitingFor, job) {
      let queue = queues.get(key)
      if (queue === undefined) {
        queue = { running: undefined, waiting: [] }
        queues.set(key, queue)
      }
      const own = queue
      if (own.waiting.length >= MAX_QUEUED) {
        return Promise.reject(new OutpostError('CONFLICT', `core.${op} of ${key}: ${MAX_QUEUED} operations are already queued for ${key} behind core.${own.running ?? '?'}; try again once they are done`, { details: { module: key, queued: own.waiting.length, limit: MAX_QUEUED } }))
      }
      return new Promise((resolve, reject) => {
        let queued = true
        const timer = setTimeout(() => {
          // a queued operation past its deadline is dropped: the caller was told it failed, so it must not act later
          if (queued) own.waiting.splice(own.waiting.indexOf(entry), 1)
          const why = queued ? `queued behind core.${own.running ?? '?'} of ${key}; not run` : `${waitingFor()}; it goes on`
          reject(new OutpostError('TIMEOUT', `core.${op} of ${key}: no result within ${deadlineMs} ms: ${why}`, { details: { module: key, op, deadlineMs, started: !queued } }))
        }, deadlineMs)
        const entry: Waiting = {
          op,
          start () {
            queued = false
            job().then(resolve, reject).finally(() => {
              clearTimeout(timer)
              next(key, own)
            })
          },
          fail (error) {
            clearTimeout(timer)
            reject(error)
          },
        }
        own.waiting.push(entry)
        if (own.running === undefined) next(key, own)
      })
    },
    cancel (error, key) {
      for (const [name, queue] of queues) {
        if (key !== undefined && name !== key) continue
        for (const job of queue.waiting.splice(0)) job.fail(error)
      }
    },
    running: key => queues.get(key)?.running,
  }
}
