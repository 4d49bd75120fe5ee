// The CLI's session with one gateway through a fleet's upstream broker (--via, docs/fleet.md "The fleet CLI"):
// the same Session as a direct connection, so every command works unchanged. A call is a request on
// `<prefix>/rpc/<module>/<method>/<operator>` with its reply on `<prefix>/reply/<operator>/<token>`; the
// operator is the upstream user name, which the upstream's ACL vouches for. The gateway's retained status is
// read first, so an unknown or offline gateway is said at once rather than after the whole timeout.
import { OutpostError } from '../errors.js'
import { decode, encodeCbor, sniffFormat } from '../protocol/codec.js'
import { checkReply, fromErrorBody } from '../protocol/envelope.js'
import { newClientId, openClient } from './connect.js'
import type { Session } from './connect.js'
import { UsageError } from './exit.js'
import { isoTime } from './format.js'
import { readStatus } from './fleet-status.js'
import type { FleetStatus } from './fleet-status.js'
import type { ConnectionOptions } from './options.js'

/**
 * How long after its subscription is acknowledged the CLI waits for a gateway's retained status. Mosquitto
 * sends retained messages right behind the SUBACK; brokers that send them later get this much more.
 */
export const RETAINED_GRACE_MS = 1000

/** Why the gateway cannot be reached, from its status: one sentence, or undefined when it is online. */
function notOnline (gateway: string, url: string, statusTopic: string, status: FleetStatus | undefined): OutpostError | undefined {
  if (status === undefined) {
    return new OutpostError('GATEWAY_UNREACHABLE', `gateway ${gateway} is unknown on ${url}: no retained status on ${statusTopic} (check --gateway, and --topic-root if the fleet uses another root; outpost fleet ls lists the gateways seen)`)
  }
  if (status.state === 'online') return undefined
  const when = status.ts === undefined ? '' : ` since ${isoTime(status.ts)}`
  const malformed = status.malformed === undefined ? '' : `; its status is malformed: ${status.malformed.join(', ')}`
  return new OutpostError('GATEWAY_UNREACHABLE', `gateway ${gateway} is ${status.state}${when} (its uplink is not connected to ${url}${malformed})`)
}

export async function connectThroughFleet (c: ConnectionOptions, fleet: NonNullable<ConnectionOptions['fleet']>): Promise<Session> {
  const gateway = fleet.gateway
  if (gateway === undefined) throw new UsageError('--via needs --gateway <fleet id> (outpost fleet ls lists the gateways)')
  const operator = c.user
  if (operator === undefined) throw new UsageError('--via needs --user: requests through the fleet name their operator, your user name on the upstream broker')
  const clientId = newClientId()
  const token = clientId.slice('outpost-'.length)
  const prefix = `${fleet.topicRoot}/${gateway}`
  const statusTopic = `${prefix}/status`
  const replyTopic = `${prefix}/reply/${operator}/${token}`
  const { client, closed: ended, onMessage } = await openClient(c, clientId, 'upstream')

  const waiting = new Map<number, { resolve: (value: any) => void, reject: (err: Error) => void, what: string }>()
  const failAll = (err: OutpostError | ((what: string) => OutpostError)): void => {
    for (const { reject, what } of waiting.values()) reject(typeof err === 'function' ? err(what) : err)
    waiting.clear()
  }
  let status: FleetStatus | undefined
  let statusArrived = (): void => {}
  let ending = false
  let listeners: Array<(topic: string, payload: Buffer) => void> = []
  onMessage((topic, payload) => {
    if (topic === statusTopic) {
      status = readStatus(payload)
      statusArrived()
      const down = notOnline(gateway, c.url, statusTopic, status)
      if (down !== undefined) failAll(down) // a call waiting on a gateway that went away ends now
    } else if (topic === replyTopic) {
      let reply
      try {
        reply = checkReply(decode(payload, sniffFormat(payload)))
      } catch {
        return
      }
      if (!reply.ok) return
      const pending = waiting.get(reply.reply.id as number)
      if (pending === undefined) return
      waiting.delete(reply.reply.id as number)
      if (!('error' in reply.reply)) pending.resolve(reply.reply.result)
      else {
        const err = fromErrorBody(reply.reply.error, pending.what)
        pending.reject(new OutpostError(err.code, `${gateway}: ${err.message}`, { details: { ...err.details, gateway } }))
      }
    }
    if (topic.startsWith(`${prefix}/`) && topic !== replyTopic) {
      for (const listener of listeners) listener(topic.slice(prefix.length + 1), payload)
    }
  })
  const closed = new Promise<OutpostError>(resolve => {
    void ended.then(refused => {
      if (ending) return
      const lost = refused ?? new OutpostError('GATEWAY_UNREACHABLE', `the connection to the upstream broker ${c.url} was lost`)
      failAll(lost)
      resolve(lost)
    })
  })

  const subscribe = async (filters: string[], qos: 0 | 1): Promise<void> => {
    const granted = await client.subscribeAsync(filters, { qos })
    const refused = granted.filter(g => g.qos === 128).map(g => g.topic)
    if (refused.length > 0) throw new OutpostError('NOT_AUTHORISED', `the upstream broker refused the subscription to ${refused.join(', ')} for ${operator}`)
  }
  try {
    const seen = new Promise<void>(resolve => { statusArrived = resolve })
    await subscribe([statusTopic], 1)
    await subscribe([replyTopic], 0)
    if (status === undefined) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([seen, new Promise(resolve => { timer = setTimeout(resolve, Math.min(RETAINED_GRACE_MS, c.timeoutMs)) })])
      clearTimeout(timer)
    }
    const down = notOnline(gateway, c.url, statusTopic, status)
    if (down !== undefined) throw down
  } catch (err) {
    ending = true
    await client.endAsync().catch(() => {})
    throw err
  }

  let nextId = 1
  return {
    clientId,
    localBus: false,
    closed,
    call (module, method, args = null) {
      const id = nextId++
      const what = `${module}.${method}`
      const down = notOnline(gateway, c.url, statusTopic, status)
      if (down !== undefined) return Promise.reject(down)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new OutpostError('TIMEOUT', `${gateway}: ${what}: no reply through ${c.url} within ${c.timeoutMs} ms`))
        }, c.timeoutMs)
        waiting.set(id, {
          what,
          resolve: value => { clearTimeout(timer); resolve(value) },
          reject: err => { clearTimeout(timer); reject(err) },
        })
        client.publish(`${prefix}/rpc/${module}/${method}/${operator}`, encodeCbor({ id, reply: replyTopic, args, timeout: c.timeoutMs }))
      })
    },
    /** local filters (hooks/…, state/…, presence/…) under the gateway's prefix: only what its uplink forwards arrives */
    async subscribe (filters, onMessage) {
      listeners.push(onMessage)
      await subscribe(filters.map(f => `${prefix}/${f}`), 1)
    },
    async end () {
      ending = true
      failAll(what => new OutpostError('GATEWAY_UNREACHABLE', `${gateway}: ${what}: the session ended before the reply`))
      listeners = []
      await client.endAsync()
    },
  }
}
