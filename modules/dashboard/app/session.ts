/// <reference lib="dom" />
// One logged-in connection to the gateway's broker: RPC calls (JSON requests, as docs/management.md shows
// with mosquitto_pub; a JSON request gets a JSON reply) and subscriptions dispatched by filter.
import { connect } from './mqtt.js'
import type { MqttClient } from './mqtt.js'
import { decodeCbor } from './cbor.js'

export interface RpcError { code: string, message: string, details?: unknown }

export class CallError extends Error {
  code: string
  constructor (error: RpcError) {
    super(error.message)
    this.code = error.code
  }
}

export interface Session {
  user: string
  clientId: string
  client: MqttClient
  call (module: string, method: string, args?: unknown, timeoutMs?: number): Promise<any>
  /** decoded messages on `filter` until the returned function is called */
  watch (filter: string, handler: (topic: string, data: any) => void): Promise<() => void>
  onClose (handler: (why: string) => void): void
  close (): void
}

/** whether an MQTT topic filter matches a topic ([MQTT-4.7]) */
export function matches (filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return !(i === 0 && topic.startsWith('$'))
    if (i >= t.length) return false
    if (f[i] === '+') {
      if (i === 0 && topic.startsWith('$')) return false
      continue
    }
    if (f[i] !== t[i]) return false
  }
  return f.length === t.length
}

const decodeText = new TextDecoder()

/** a payload as the gateway sends it: JSON when it starts with `{`, CBOR otherwise (docs/protocol.md) */
export function decodePayload (payload: Uint8Array): unknown {
  if (payload.length === 0) return null
  if (payload[0] === 0x7b) return JSON.parse(decodeText.decode(payload))
  return decodeCbor(payload)
}

export async function login (url: string, user: string, password: string): Promise<Session> {
  const clientId = `dashboard-${user}-${Math.random().toString(36).slice(2, 10)}`
  const client = await connect(url, { clientId, username: user, password })
  const replyTopic = `reply/${clientId}`
  const pending = new Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void, timer: ReturnType<typeof setTimeout> }>()
  const watchers = new Set<{ filter: string, handler: (topic: string, data: unknown) => void }>()
  const closeHandlers: Array<(why: string) => void> = []
  let nextId = 1
  client.onMessage((topic, payload) => {
    let data: any
    try {
      data = decodePayload(payload)
    } catch {
      return // not ours to read (a module's hook in another encoding): skipped
    }
    if (topic === replyTopic) {
      const call = pending.get(data?.id)
      if (call === undefined) return
      pending.delete(data.id)
      clearTimeout(call.timer)
      if (data.error !== undefined) call.reject(new CallError(data.error))
      else call.resolve(data.result)
      return
    }
    for (const w of watchers) if (matches(w.filter, topic)) w.handler(topic, data)
  })
  client.onClose(why => {
    // as the CLI says it: the broker closes a connection that publishes what it may not (a viewer's change)
    for (const call of pending.values()) {
      clearTimeout(call.timer)
      call.reject(new CallError({ code: 'NOT_AUTHORISED', message: `the gateway closed the connection instead of answering: this user may not do that (${why})` }))
    }
    pending.clear()
    for (const handler of closeHandlers) handler(why)
  })
  if (await client.subscribe(replyTopic) === 0x80) throw new Error(`the gateway refused the subscription to ${replyTopic}`)
  const subscribed = new Map<string, number>() // filter → watchers using it
  return {
    user,
    clientId,
    client,
    call (module, method, args = null, timeoutMs = 10_000) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new CallError({ code: 'TIMEOUT', message: `${module}.${method}: no reply within ${timeoutMs / 1000} s` }))
        }, timeoutMs)
        pending.set(id, { resolve, reject, timer })
        client.publish(`rpc/${module}/${method}`, JSON.stringify({ id, reply: replyTopic, timeout: timeoutMs, args }))
      })
    },
    async watch (filter, handler) {
      const watcher = { filter, handler }
      watchers.add(watcher)
      const users = subscribed.get(filter) ?? 0
      subscribed.set(filter, users + 1)
      if (users === 0 && await client.subscribe(filter) === 0x80) {
        watchers.delete(watcher)
        subscribed.delete(filter)
        throw new Error(`the gateway refused the subscription to ${filter}`)
      }
      let watching = true
      return () => {
        if (!watching) return
        watching = false
        watchers.delete(watcher)
        const left = (subscribed.get(filter) ?? 1) - 1
        subscribed.set(filter, left)
        if (left === 0) {
          subscribed.delete(filter)
          client.unsubscribe(filter)
        }
      }
    },
    onClose (handler) { closeHandlers.push(handler) },
    close () { client.close() },
  }
}
