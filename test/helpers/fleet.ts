// A fleet operator on the upstream broker: calls a gateway's modules through its uplink, as docs/fleet.md
// describes (request on <root>/<gateway>/rpc/<module>/<method>/<operator>, reply on
// <root>/<gateway>/reply/<operator>/<token>).
import type { MqttClient } from 'mqtt'
import { decodeCbor, encodeCbor } from '../../core/protocol/codec.js'
import type { Operator } from './gateway.js'
import { poll } from './wait.js'

/** the uplink module's `stats` answer, asked on the gateway by a local operator */
export async function uplinkStats (local: Operator): Promise<any> {
  return (await local.call('uplink', 'stats')).result
}

/** the uplink's instance as core.status reports it */
export async function uplinkInstance (local: Operator): Promise<{ pid: number, restarts: number }> {
  return ((await local.call('core', 'status', { module: 'uplink' })).result as any).instances[0]
}

/** resolves once the uplink says it is connected to the upstream (it answers UNAVAILABLE while it starts) */
export async function uplinkConnected (local: Operator): Promise<void> {
  await poll(async () => (await uplinkStats(local))?.connected === true ? true : undefined, 150)
}

export interface FleetOperator {
  client: MqttClient
  call (gateway: string, module: string, method: string, args?: unknown, timeoutMs?: number): Promise<{ id: number, result?: any, error?: { code: string, message: string } }>
  end (): Promise<void>
}

export async function fleetOperator (client: MqttClient, user: string, root = 'outpost'): Promise<FleetOperator> {
  const token = `t${Math.random().toString(36).slice(2, 10)}`
  const waiting = new Map<number, (reply: any) => void>()
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(`${root}/`) || !topic.endsWith(`/reply/${user}/${token}`)) return
    const reply = decodeCbor(payload) as { id: number }
    waiting.get(reply.id)?.(reply)
    waiting.delete(reply.id)
  })
  await client.subscribeAsync(`${root}/+/reply/${user}/${token}`, { qos: 0 })
  let nextId = 1
  return {
    client,
    call (gateway, module, method, args = null, timeoutMs = 10_000) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`${gateway}: ${module}.${method}: no reply within ${timeoutMs} ms`))
        }, timeoutMs)
        waiting.set(id, reply => { clearTimeout(timer); resolve(reply) })
        client.publish(`${root}/${gateway}/rpc/${module}/${method}/${user}`, encodeCbor({ id, reply: `${root}/${gateway}/reply/${user}/${token}`, timeout: timeoutMs, args }))
      })
    },
    end: () => client.endAsync(),
  }
}
