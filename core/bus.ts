// The core on the bus, as the reserved module `core`: it serves `rpc/core/<method>`, emits
// `hooks/core/<hook>` and publishes retained `state/<module>`, all inside the broker process (no socket hop).
import type { AedesPublishPacket } from 'aedes'
import type { Broker } from './broker/broker.js'
import { encodeCbor, epochMs } from './protocol/codec.js'
import { serveRequest } from './protocol/serve.js'
import type { MethodHandler } from './protocol/serve.js'
import { CORE_MODULE, topics } from './protocol/topics.js'

export interface CoreBus {
  method (name: string, handler: MethodHandler): void
  emit (hook: string, data: unknown): void
  publishRetained (topic: string, data: unknown): void
  /** in-process subscription; a handler that throws is logged, never let into the broker */
  subscribe (filter: string, handler: (topic: string, payload: Buffer) => void): Promise<void>
  stop (): Promise<void>
}

export interface CoreBusLog {
  warn (message: string, fields: Record<string, unknown>): void
}

export async function startCoreBus (broker: Pick<Broker, 'aedes' | 'subscribe' | 'unsubscribe'>, log: CoreBusLog): Promise<CoreBus> {
  const { aedes } = broker
  const methods = new Map<string, MethodHandler>()
  const subscriptions: Array<{ filter: string, deliver: (packet: AedesPublishPacket, cb: () => void) => void }> = []

  const publish = (topic: string, payload: Buffer, retain = false): void => {
    aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain, dup: false }, () => {})
  }

  const subscribe = (filter: string, handler: (topic: string, payload: Buffer) => void): Promise<void> => {
    const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
      // this runs inside the broker's delivery of a client's message: a throw would crash the core
      try {
        handler(packet.topic, packet.payload as Buffer)
      } catch (err) {
        log.warn('a core subscriber failed on a message', { topic: packet.topic, error: (err as Error).message })
      }
      cb()
    }
    subscriptions.push({ filter, deliver })
    return broker.subscribe(filter, deliver)
  }

  const ctx = {
    owner: CORE_MODULE,
    methods,
    send: (topic: string, payload: Buffer) => publish(topic, payload),
    warn: log.warn,
  }
  await subscribe(topics.rpcAll(CORE_MODULE), (topic, payload) => {
    serveRequest(ctx, topic.slice(topic.lastIndexOf('/') + 1), payload)
  })

  return {
    method (name, handler) { methods.set(name, handler) },
    emit (hook, data) { publish(topics.hook(CORE_MODULE, hook), encodeCbor({ data, ts: epochMs(Date.now()), instance: 0 })) },
    publishRetained (topic, data) { publish(topic, encodeCbor(data), true) },
    subscribe,
    async stop () {
      await Promise.all(subscriptions.map(({ filter, deliver }) => broker.unsubscribe(filter, deliver)))
    },
  }
}
