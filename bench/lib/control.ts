// The benchmark's control connection to a broker (the gateway's anonymous control listener, or Mosquitto):
// it waits for modules to say ready and tells them what to do with ordinary RPC calls. It is not on the
// timed path: the modules time themselves.
import { connectMqtt } from '../../core/sdk/mqtt-client.js'
import type { MqttClient } from '../../core/sdk/mqtt-client.js'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import type { Presence } from '../../core/protocol/envelope.js'

export interface Control {
  /** waits until each module's instance 0 is ready; returns their pids */
  ready (modules: string[], timeoutMs: number): Promise<Record<string, number>>
  call<T> (module: string, method: string, args: unknown, timeoutMs: number): Promise<T>
  end (): Promise<void>
}

export async function connectControl (url: string, clientId: string): Promise<Control> {
  const client: MqttClient = await connectMqtt({ url, clientId, keepaliveSeconds: 0 })
  const replyTopic = `reply/${clientId}`
  const replies = new Map<number, (reply: { result?: unknown, error?: { code: string, message: string } }) => void>()
  const presence = new Map<string, Presence>()
  let onPresence = (): void => {}
  client.onMessage((topic, payload) => {
    if (topic === replyTopic) {
      const reply = decodeCbor(payload) as { id: number, result?: unknown, error?: { code: string, message: string } }
      replies.get(reply.id)?.(reply)
      replies.delete(reply.id)
    } else if (topic.startsWith('presence/')) {
      presence.set(topic.slice('presence/'.length), decodeCbor(payload) as Presence)
      onPresence()
    }
  })
  await client.subscribe([replyTopic, 'presence/+/+'])
  let nextId = 1

  return {
    ready (modules, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const pids: Record<string, number> = {}
          for (const name of modules) {
            const p = presence.get(`${name}/0`)
            if (p?.state !== 'ready' || p.pid === undefined) return
            pids[name] = p.pid
          }
          clearTimeout(timer)
          onPresence = () => {}
          resolve(pids)
        }
        const timer = setTimeout(() => {
          onPresence = () => {}
          const missing = modules.filter(name => presence.get(`${name}/0`)?.state !== 'ready')
          reject(new Error(`modules not ready within ${timeoutMs} ms: ${missing.join(', ')}`))
        }, timeoutMs)
        onPresence = check
        check()
      })
    },
    call<T> (module: string, method: string, args: unknown, timeoutMs: number) {
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          replies.delete(id)
          reject(new Error(`${module}.${method}: no reply within ${timeoutMs} ms`))
        }, timeoutMs)
        replies.set(id, reply => {
          clearTimeout(timer)
          if (reply.error !== undefined) reject(new Error(`${module}.${method}: ${reply.error.code}: ${reply.error.message}`))
          else resolve(reply.result as T)
        })
        client.publish(`rpc/${module}/${method}`, encodeCbor({ id, reply: replyTopic, timeout: timeoutMs, from: clientId, args }))
          .catch((err: Error) => {
            clearTimeout(timer)
            replies.delete(id)
            reject(err)
          })
      })
    },
    end: () => client.end(),
  }
}
