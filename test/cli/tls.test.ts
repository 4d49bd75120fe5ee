// The operator listener over TLS, with certificates made by openssl for this test: the CLI trusts the
// gateway only with the CA, and a listener that requires client certificates refuses a client without one.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { makeCertificates } from '../helpers/certs.js'
import { startTestGateway, fixture } from '../helpers/gateway.js'
import type { TestGateway } from '../helpers/gateway.js'
import { PASSWORDS, cli, operators } from '../management/helpers.js'

let gw: TestGateway
let certs: string
let serverOnly: string
let mutual: string

before(async () => {
  certs = mkdtempSync(path.join(os.tmpdir(), 'outpost-certs-'))
  makeCertificates(certs)
  const file = (name: string): string => path.join(certs, name)
  gw = await startTestGateway({
    broker: {
      listeners: [
        { type: 'tls', host: '127.0.0.1', port: 0, cert: file('server.crt'), key: file('server.key') },
        { type: 'tls', host: '127.0.0.1', port: 0, cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt'), requireClientCert: true },
      ],
    },
    operators: await operators(),
    modules: [{ name: 'alpha', entry: fixture('echo') }],
  })
  serverOnly = gw.gateway.broker.listeners[0]?.url ?? ''
  mutual = gw.gateway.broker.listeners[1]?.url ?? ''
})

after(async () => {
  await gw?.stop()
  if (certs !== undefined) rmSync(certs, { recursive: true, force: true })
})

const admin = { OUTPOST_USER: 'admin', OUTPOST_PASS: PASSWORDS.admin }

test('the listeners are TLS', () => {
  assert.match(serverOnly, /^mqtts:\/\/127\.0\.0\.1:\d+$/)
  assert.match(mutual, /^mqtts:\/\/127\.0\.0\.1:\d+$/)
})

test('with the CA the CLI manages the gateway over TLS; without it, it refuses to talk', async () => {
  const ok = await cli(['ls', '--url', serverOnly, '--ca', path.join(certs, 'ca.crt')], admin)
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /^alpha\s+running/m)
  const untrusted = await cli(['ls', '--url', serverOnly], admin)
  assert.equal(untrusted.code, 3)
  assert.match(untrusted.stderr, /TLS certificate is not trusted .*--ca/)
  const anonymous = await cli(['ls', '--url', serverOnly, '--ca', path.join(certs, 'ca.crt')])
  assert.equal(anonymous.code, 4, 'TLS listeners never allow anonymous access')
})

test('a listener that requires client certificates refuses a client without one', async () => {
  const ca = ['--ca', path.join(certs, 'ca.crt')]
  const without = await cli(['ls', '--url', mutual, ...ca], admin)
  assert.equal(without.code, 3)
  assert.match(without.stderr, /--cert/)
  const withCert = await cli(['ls', '--url', mutual, ...ca, '--cert', path.join(certs, 'client.crt'), '--key', path.join(certs, 'client.key')], admin)
  assert.equal(withCert.code, 0, withCert.stderr)
  assert.match(withCert.stdout, /^alpha\s+running/m)
})
