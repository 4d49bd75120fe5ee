// Debian's mosquitto as a fleet's upstream broker, started by a test on a free loopback port from the shipped
// examples (examples/fleet/mosquitto.conf and mosquitto.acl) with only the port and paths changed: TLS
// (certificates made by openssl), a password file, persistence, so the tests exercise the configuration
// docs/fleet.md tells operators to deploy.
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { freePort } from '../../bench/lib/stacks.js'
import { makeCertificates } from './certs.js'
import { gone } from './wait.js'

export const ACL_EXAMPLE = fileURLToPath(new URL('../../../examples/fleet/mosquitto.acl', import.meta.url))
export const CONF_EXAMPLE = fileURLToPath(new URL('../../../examples/fleet/mosquitto.conf', import.meta.url))

/** The example configuration with each of `values`' options set to its value; every one must be in it once. */
function fromExample (values: Record<string, string>): string {
  const seen = new Set<string>()
  const lines = readFileSync(CONF_EXAMPLE, 'utf8').split('\n').map(line => {
    const option = /^(\w+) /.exec(line)?.[1]
    if (option === undefined || values[option] === undefined) return line
    if (seen.has(option)) throw new Error(`${CONF_EXAMPLE}: ${option} twice`)
    seen.add(option)
    return `${option} ${values[option]}`
  })
  const missing = Object.keys(values).filter(option => !seen.has(option))
  if (missing.length > 0) throw new Error(`${CONF_EXAMPLE} has no ${missing.join(', ')}`)
  return lines.join('\n')
}

export interface Upstream {
  url: string
  port: number
  dir: string
  ca: string
  /** stops mosquitto: SIGKILL (an outage) or SIGTERM */
  stop (signal?: NodeJS.Signals): Promise<void>
  /** starts it again on the same port */
  start (): Promise<void>
  /** an MQTT 3.1.1 client logged in as `user` */
  client (user: string, options?: { clientId?: string }): Promise<MqttClient>
  close (): Promise<void>
}


function listening (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/**
 * `users`: user name → password, gateways (by fleet id) and operators alike. Sessions and their queued QoS 1
 * messages survive a stop with SIGTERM (the example's persistence: mosquitto saves them on the way out).
 * `acl`: the ACL file's text instead of the shipped example (a hostile upstream, where anyone writes anything).
 */
export async function startUpstream (users: Record<string, string>, options: { acl?: string } = {}): Promise<Upstream> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-upstream-'))
  const certs = makeCertificates(dir)
  const passwords = path.join(dir, 'passwords')
  writeFileSync(passwords, '', { mode: 0o600 })
  for (const [user, password] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', passwords, user, password], { stdio: 'pipe' })
  const port = await freePort()
  const conf = path.join(dir, 'mosquitto.conf')
  const acl = options.acl === undefined ? ACL_EXAMPLE : path.join(dir, 'acl')
  if (options.acl !== undefined) writeFileSync(acl, options.acl)
  writeFileSync(conf, [
    // as root (CI), mosquitto would switch to the user "mosquitto", who cannot read this test's 0700 folder
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    fromExample({
      password_file: passwords,
      acl_file: acl,
      persistence_location: `${dir}/`,
      listener: `${port} 127.0.0.1`,
      cafile: certs.ca,
      certfile: certs.serverCert,
      keyfile: certs.serverKey,
    }),
  ].join('\n'))
  let child: ChildProcess | undefined
  let log = ''

  const start = async (): Promise<void> => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    c.stderr?.on('data', chunk => { log = (log + chunk).slice(-4000) })
    child = c
    const started = Date.now()
    while (!(await listening(port))) {
      if (c.exitCode !== null || Date.now() - started > 10_000) throw new Error(`mosquitto did not start on ${port}: ${log}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child
    child = undefined
    if (c?.pid === undefined || c.exitCode !== null) return
    const exited = new Promise(resolve => c.once('exit', resolve))
    c.kill(signal)
    await exited
    while (!gone(c.pid as number)) await new Promise(resolve => setTimeout(resolve, 10))
  }
  await start()
  const url = `mqtts://127.0.0.1:${port}`
  return {
    url,
    port,
    dir,
    ca: certs.ca,
    stop,
    start,
    client: (user, options = {}) => mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: options.clientId ?? `${user}-${Math.random().toString(36).slice(2, 8)}`,
      username: user,
      password: users[user] ?? '',
      ca: readFileSync(certs.ca),
      reconnectPeriod: 0,
    }),
    async close () {
      await stop('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
