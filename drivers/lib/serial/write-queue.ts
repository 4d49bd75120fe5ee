// One write at a time, each bounded by a timeout. A write is done when serialport has handed its bytes to
// the OS; a device that stops reading (flow control, a wedged adapter) shows up as a write timeout.
import { OutpostError } from '../../../core/errors.js'

export type Sender = (data: Buffer, done: (err?: Error | null) => void) => void

interface Job {
  data: Buffer
  resolve: () => void
  reject: (err: OutpostError) => void
  timer?: NodeJS.Timeout
  done: boolean
}

export interface WriteQueue {
  push (data: Buffer): Promise<void>
  /** starts sending through `send` (the port that just opened) */
  attach (send: Sender): void
  /** stops sending and rejects the write in flight and every queued one with `error` */
  failAll (error: OutpostError): void
}

export function createWriteQueue (options: { path: string, timeoutMs: number, onTimeout: () => void, onSent: (bytes: number) => void }): WriteQueue {
  const queue: Job[] = []
  let active: Job | undefined
  let send: Sender | undefined

  const finish = (job: Job, err?: OutpostError): void => {
    if (job.done) return
    job.done = true
    clearTimeout(job.timer)
    if (active === job) active = undefined
    if (err === undefined) job.resolve()
    else job.reject(err)
    pump()
  }

  const pump = (): void => {
    if (active !== undefined || send === undefined) return
    const job = queue.shift()
    if (job === undefined) return
    active = job
    job.timer = setTimeout(() => {
      options.onTimeout()
      finish(job, new OutpostError('SERIAL_WRITE_TIMEOUT',
        `write of ${job.data.length} bytes to ${options.path} did not complete within ${options.timeoutMs} ms (is the device reading? hardware flow control?)`,
        { details: { path: options.path, bytes: job.data.length, timeoutMs: options.timeoutMs } }))
    }, options.timeoutMs)
    send(job.data, err => {
      if (err === undefined || err === null) {
        if (!job.done) options.onSent(job.data.length)
        finish(job)
        return
      }
      finish(job, new OutpostError('SERIAL_DISCONNECTED', `write to ${options.path} failed: ${err.message}`, { details: { path: options.path }, cause: err }))
    })
  }

  return {
    push (data) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ data, resolve, reject, done: false })
        pump()
      })
    },
    attach (sender) {
      send = sender
      pump()
    },
    failAll (error) {
      send = undefined
      const jobs = active === undefined ? queue.splice(0) : [active, ...queue.splice(0)]
      for (const job of jobs) finish(job, error)
    },
  }
}
