// Starts a real gateway (real Aedes broker, real module processes) from a manifest object in a temp dir,
// and a real MQTT client (mqtt.js) to talk to it as an operator would.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { startGateway } from '../../core/gateway.js'
import type { Gateway } from '../../core/gateway.js'
import { createCoreLog } from '../../core/log.js'
import type { LogEntry } from '../../core/log.js'
import { encodeCbor, decodeCbor } from '../../core/protocol/codec.js'

export { waitFor, poll, gone } from './wait.js'

/** compiled test fixtures: build/test/fixtures/modules/<name>.js */
export function fixture (name: string): string {
  return fileURLToPath(new URL(`../fixtures/modules/${name}.js`, import.meta.url))
}

export interface TestGateway {
  gateway: Gateway
  dir: string
  logs: LogEntry[]
  url: string
  manifestFile: string
  stop (): Promise<void>
}

export async function startTestGateway (manifest: Record<string, unknown>): Promise<TestGateway> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-test-'))
  const manifestFile = path.join(dir, 'gateway.json')
  writeFileSync(manifestFile, JSON.stringify({
    gateway: 'test',
    board: 'sim',
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0, anonymous: true }] },
    ...manifest,
  }, null, 2))
  const logs: LogEntry[] = []
  const log = createCoreLog({ level: 'error', write: () => {} })
  log.addSink(entry => { logs.push(entry) })
  let gateway: Gateway
  try {
    gateway = await startGateway({ manifestFile, log, runtimeDir: path.join(dir, 'run') })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const url = gateway.broker.listeners[0]?.url ?? ''
  return {
    gateway,
    dir,
    logs,
    url,
    manifestFile,
    async stop () {
      await gateway.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface Operator {
  client: MqttClient
  clientId: string
  call (module: string, method: string, args?: unknown, timeoutMs?: number): Promise<{ result?: unknown, error?: { code: string, message: string, details?: unknown } }>
  raw (topic: string, payload: Buffer | string): void
  /** publishes a hand-made request envelope and resolves with the reply carrying its id */
  rawRequest (topic: string, envelope: { id: string | number, [key: string]: unknown }, timeoutMs?: number): Promise<any>
  end (): Promise<void>
}

/** An MQTT 3.1.1 client (mqtt.js) that calls modules the way docs/protocol.md says. */
export async function connectOperator (url: string, options: { username?: string, password?: string } = {}): Promise<Operator> {
  const clientId = `op-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, reconnectPeriod: 0, ...options })
  const replyTopic = `reply/${clientId}`
  const waiting = new Map<number, (reply: any) => void>()
  client.on('message', (topic, payload) => {
    if (topic !== replyTopic) return
    const reply = decodeCbor(payload) as { id: number }
    waiting.get(reply.id)?.(reply)
    waiting.delete(reply.id)
  })
  await client.subscribeAsync(replyTopic)
  let nextId = 1
  return {
    client,
    clientId,
    call (module, method, args = null, timeoutMs = 5000) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`${module}.${method}: no reply within ${timeoutMs} ms`))
        }, timeoutMs)
        waiting.set(id, reply => {
          clearTimeout(timer)
          resolve(reply)
        })
        client.publish(`rpc/${module}/${method}`, encodeCbor({ id, reply: replyTopic, args, from: clientId }))
      })
    },
    raw (topic, payload) { client.publish(topic, payload) },
    rawRequest (topic, envelope, timeoutMs = 30_000) {
      // bounded, so a reply that never comes fails its test with the request named, not with the test's own timeout
      const reply = new Promise<any>((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off('message', onMessage)
          reject(new Error(`no reply to ${topic} id ${String(envelope.id)} within ${timeoutMs} ms`))
        }, timeoutMs)
        const onMessage = (t: string, payload: Buffer): void => {
          const body = decodeCbor(payload) as { id: unknown }
          if (t === replyTopic && body.id === envelope.id) {
            clearTimeout(timer)
            client.off('message', onMessage)
            resolve(body)
          }
        }
        client.on('message', onMessage)
      })
      client.publish(topic, encodeCbor(envelope))
      return reply
    },
    end: () => client.endAsync(),
  }
}

export interface HookLog {
  /** data of every `hooks/<module>/<hook>` received so far, in order */
  of (hook: string): any[]
}

/** Records every hook a module emits from now on. */
export async function watchHooks (op: Operator, module: string): Promise<HookLog> {
  const prefix = `hooks/${module}/`
  const seen: Array<{ hook: string, data: any }> = []
  op.client.on('message', (topic, payload) => {
    if (topic.startsWith(prefix)) seen.push({ hook: topic.slice(prefix.length), data: (decodeCbor(payload) as { data: unknown }).data })
  })
  await op.client.subscribeAsync(`${prefix}#`)
  return { of: hook => seen.filter(h => h.hook === hook).map(h => h.data) }
}
