// What of a request may be a secret, shown to those who may not read it (core/management/secrets.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { configKeys, seesSecrets, urlWithoutCredentials, withoutArguments } from '../../core/management/secrets.js'

test('review: a URL loses its user and password, a command its arguments, a config its values; only admins see them', () => {
  assert.equal(urlWithoutCredentials('https://user:token@releases.example/b.tar.gz'), 'https://releases.example/b.tar.gz')
  assert.equal(urlWithoutCredentials('https://releases.example/b.tar.gz'), 'https://releases.example/b.tar.gz')
  assert.equal(urlWithoutCredentials('https://token@releases.example/a@b.tar.gz'), 'https://releases.example/a@b.tar.gz')
  assert.equal(urlWithoutCredentials('/tmp/a@b.tar.gz'), '/tmp/a@b.tar.gz')
  assert.deepEqual(withoutArguments(['/usr/bin/bridge', '--token', 't']), ['/usr/bin/bridge', null, null])
  assert.deepEqual(configKeys({ apiKey: 'k', port: 1 }), { apiKey: null, port: null })
  assert.equal(configKeys(undefined), undefined)
  assert.equal(seesSecrets({ kind: 'operator', role: 'admin', user: 'a', clientId: 'c' }), true)
  assert.equal(seesSecrets({ kind: 'fleet', role: 'admin', user: 'a', clientId: 'c' }), true)
  assert.equal(seesSecrets({ kind: 'operator', role: 'viewer', user: 'v', clientId: 'c' }), false)
  assert.equal(seesSecrets({ kind: 'module', clientId: 'm.0' }), false)
  assert.equal(seesSecrets(null), false)
})
