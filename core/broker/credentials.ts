// Credentials: one random secret per module process, valid for that process's life only, plus the
// manifest's operators (salted scrypt hashes) and anonymous access where a listener allows it.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { Identity } from './access.js'
import type { Authenticator, ListenerConfig } from './broker.js'
import { parseClientId } from '../protocol/topics.js'

export interface Credentials extends Authenticator {
  /** issues a fresh secret for one module process; the previous one for that client id stops working */
  issue (module: string, instance: number, calls: ReadonlySet<string> | '*'): { username: string, password: string }
  revoke (clientId: string): void
}

export interface OperatorCheck {
  /** verifies an operator's password; returns the role or null */
  verify (user: string, password: string): 'admin' | 'viewer' | null
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function allowsAnonymous (listener: ListenerConfig): boolean {
  return listener.type !== 'tls' && listener.anonymous === true
}

export function createCredentials (operators: OperatorCheck = { verify: () => null }): Credentials {
  const modules = new Map<string, { password: string, identity: Identity }>()
  return {
    issue (module, instance, calls) {
      const username = `${module}.${instance}`
      const password = randomBytes(24).toString('base64url')
      modules.set(username, { password, identity: { kind: 'module', clientId: username, module, instance, calls } })
      return { username, password }
    },
    revoke (clientId) {
      modules.delete(clientId)
    },
    authenticate ({ clientId, username, password, listener }) {
      if (username === undefined) {
        if (allowsAnonymous(listener)) return { kind: 'anonymous', clientId, role: 'admin' }
        return { refused: 'not-authorised', why: 'anonymous access is off on this listener' }
      }
      const module = modules.get(username)
      if (module !== undefined) {
        if (password === undefined || !sameSecret(password, module.password)) return { refused: 'bad-credentials', why: `wrong or stale credential for module ${username}` }
        // a module's credential is bound to its own client id, so it cannot pose as another instance
        if (clientId !== username) return { refused: 'not-authorised', why: `module ${username} must connect with client id ${username}` }
        return module.identity
      }
      if (parseClientId(username) !== null) return { refused: 'bad-credentials', why: `no live module process ${username}` }
      const role = password === undefined ? null : operators.verify(username, password)
      if (role === null) return { refused: 'bad-credentials', why: `wrong user name or password for ${username}` }
      return { kind: 'operator', clientId, user: username, role }
    },
  }
}
