// What waits for its rate tokens, per client (limits.ts: the `throttle` action). Aedes handles every packet of
// one read at once and reads on only when all are done, so a throttled client's read waits whole, and its socket
// is not read meanwhile (TCP backpressure). Each client's waiting packets are kept in order on one timer; when
// the connection closes they are dropped and their tokens given back to the bucket, which its user's other
// connections share (review 8: a timer per message, never cancelled, let connections that wrote 64 KiB of small
// PUBLISHes and closed leave 2.6 million timers and 2 GiB behind, and the debt starved every connection of the
// bucket). What one connection may have waiting is bounded (waitingLimit), and a connection past it is refused,
// and disconnected.
import type net from 'node:net'
import type { Client } from 'aedes'
import { MAX_SUBSCRIPTIONS, monotonicNow } from './limits.js'
import type { RateGate, RateLimit } from './limits.js'

interface Waiting { due: number, cost: number, go: () => void }

/**
 * What one connection may have waiting: MAX_LINE_SECONDS of its rate (at least a SUBSCRIBE of MAX_SUBSCRIPTIONS
 * filters), and never more than MAX_WAITING_TOKENS (more than a read of 64 KiB holds of the smallest PUBLISH
 * packets). A closed connection whose close the broker cannot see yet (its FIN behind unread bytes) holds no
 * more than that of its bucket (review 8: 16,000 PUBLISHes written and closed held 60 MB and the address's
 * bucket for minutes), and a connection sending more than that is flooding, not bursting.
 */
export const MAX_LINE_SECONDS = 10
export const MAX_WAITING_TOKENS = 16_384
export const waitingLimit = (limit: RateLimit): number => Math.min(MAX_WAITING_TOKENS, Math.max(MAX_SUBSCRIPTIONS, limit.messagesPerSecond * MAX_LINE_SECONDS))

const GONE: Waiting = { due: 0, cost: 0, go: () => {} }
/** gone items a line keeps before it drops them (a slice each time would cost what still waits, each run) */
const COMPACT_FROM = 64

interface Line {
  gate: RateGate
  /** in order of `due`; those before `head` have gone */
  items: Waiting[]
  head: number
  /** tokens the items hold */
  cost: number
  timer: NodeJS.Timeout | null
}

export interface WaitLines {
  /**
   * Runs `go` once the client's bucket has `cost` tokens for it, after whatever of the client's waits already:
   * now, or later on the client's one timer. False when the client must go: over its rate under `disconnect`,
   * or more than waitingLimit(its rate) waiting under `throttle`.
   */
  admit (client: Client, gate: RateGate, cost: number, go: () => void): boolean
  /** clients with something waiting (for tests and metrics) */
  readonly waiting: number
}

export function waitLines (now: () => number = monotonicNow): WaitLines {
  const lines = new Map<Client, Line>()
  const watched = new WeakSet<Client>()
  // closed with packets waiting: they are dropped, and their tokens go back to the shared bucket
  const closed = (client: Client): void => {
    const line = lines.get(client)
    if (line === undefined) return
    if (line.timer !== null) clearTimeout(line.timer)
    line.gate.give(line.cost)
    lines.delete(client)
  }

  const run = (client: Client, line: Line): void => {
    line.timer = null
    const t = now()
    const { items } = line
    const from = line.head
    let to = from
    while (to < items.length && (items[to] as Waiting).due <= t) to++
    // gone before they run: what they start may add to the line
    line.head = to
    for (let i = from; i < to; i++) line.cost -= (items[i] as Waiting).cost
    for (let i = from; i < to; i++) {
      const item = items[i] as Waiting
      items[i] = GONE // its packet is not kept until the line is compacted
      item.go()
    }
    // what has gone is dropped once it is most of the line: a run costs what it runs, not what waits
    if (line.head > COMPACT_FROM && line.head * 2 > line.items.length) {
      line.items = line.items.slice(line.head)
      line.head = 0
    }
    arm(client, line)
  }
  const arm = (client: Client, line: Line): void => {
    const head = line.items[line.head]
    if (head === undefined) {
      lines.delete(client)
      return
    }
    if (line.timer === null) line.timer = setTimeout(() => run(client, line), Math.max(0, head.due - now()))
  }

  return {
    admit (client, gate, cost, go) {
      let line = lines.get(client)
      const wait = gate.take(cost)
      if (wait < 0) return false
      if (line === undefined) {
        if (wait === 0) {
          go()
          return true
        }
        line = { gate, items: [], head: 0, cost: 0, timer: null }
        lines.set(client, line)
        if (!watched.has(client)) {
          watched.add(client)
          ;(client as unknown as { conn: net.Socket }).conn.once('close', () => closed(client))
        }
      }
      if (line.cost + cost > waitingLimit(gate.limit)) {
        gate.give(cost)
        return false
      }
      // behind what already waits, in order, even when the bucket would let it go now
      const last = line.items[line.items.length - 1]
      line.items.push({ due: Math.max(now() + wait, last?.due ?? 0), cost, go })
      line.cost += cost
      arm(client, line)
      return true
    },
    get waiting () {
      return lines.size
    },
  }
}
