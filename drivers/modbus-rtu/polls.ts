// Polls on a schedule: each on its own interval, as background work of the master (every RPC call goes
// first), at most one read of a poll queued or in flight: a tick that finds the previous read still there is
// skipped and counted, not queued (a slow or silent bus does not pile reads up), and none run while the port
// is not open.
import type { Logger } from '../../core/sdk/index.js'
import type { CallOptions, ModbusMaster } from '../lib/modbus/index.js'
import { decodeRegisters } from './decode.js'
import type { ReadFunction } from './args.js'
import type { PollConfig } from './schema.js'

export interface PollStatus {
  ok: number
  failed: number
  /** ticks skipped because the previous read was still queued or in flight */
  skipped: number
  lastError: { code: string, message: string } | null
}

export interface Polls {
  /** one read of every poll now (when the port opens: a device may have been away for long) */
  runAll (): void
  status (): Record<string, PollStatus>
  stop (): void
}

/** reads `count` items with the function, as booleans or registers */
export function readWith (master: ModbusMaster, fn: ReadFunction, unit: number, address: number, count: number, options?: CallOptions): Promise<boolean[] | number[]> {
  switch (fn) {
    case 'coils': return master.readCoils(unit, address, count, options)
    case 'discrete': return master.readDiscreteInputs(unit, address, count, options)
    case 'holding': return master.readHoldingRegisters(unit, address, count, options)
    case 'input': return master.readInputRegisters(unit, address, count, options)
  }
}

export function startPolls (polls: PollConfig[], ctx: { master: ModbusMaster, isOpen: () => boolean, emit: (hook: string, data: unknown) => void, log: Logger }): Polls {
  const { master, log } = ctx
  const states = polls.map(poll => ({ poll, busy: false, status: { ok: 0, failed: 0, skipped: 0, lastError: null } as PollStatus }))

  const run = (state: typeof states[number]): void => {
    const { poll, status } = state
    if (!ctx.isOpen()) return
    if (state.busy) {
      status.skipped++
      return
    }
    state.busy = true
    readWith(master, poll.function, poll.unit, poll.address, poll.count, { background: true }).then(raw => {
      const values = poll.function === 'coils' || poll.function === 'discrete' ? raw : decodeRegisters(raw as number[], poll)
      if (status.lastError !== null) log.info(`poll ${poll.name} works again`)
      status.ok++
      status.lastError = null
      ctx.emit(`poll/${poll.name}`, { unit: poll.unit, function: poll.function, address: poll.address, values })
    }, (err: { code?: string, message: string }) => {
      const code = err.code ?? 'HANDLER_FAILED'
      // once per kind of failure, not once per tick of a device that is away
      if (status.lastError?.code !== code) log.warn(`poll ${poll.name} failed: ${err.message}`, { code })
      status.failed++
      status.lastError = { code, message: err.message }
    }).finally(() => { state.busy = false })
  }

  const timers = states.map(state => setInterval(() => { run(state) }, state.poll.everyMs))
  return {
    runAll () { for (const state of states) run(state) },
    status: () => Object.fromEntries(states.map(s => [s.poll.name, { ...s.status }])),
    stop () { for (const timer of timers) clearInterval(timer) },
  }
}
