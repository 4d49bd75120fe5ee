// Credentials: one random secret per module process, valid for that process's life only, plus the
// manifest's operators (salted scrypt hashes) and anonymous access where a listener allows it.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import type { Identity, Role } from './access.js'
import type { Authenticator, ListenerConfig } from './broker.js'
import { parseClientId } from '../protocol/topics.js'

export interface Credentials extends Authenticator {
  /** issues a fresh secret for one module process; the previous one for that client id stops working */
  issue (module: string, instance: number, calls: ReadonlySet<string> | '*'): { username: string, password: string }
  revoke (clientId: string): void
}

export interface OperatorCheck {
  /** verifies an operator's password; resolves to the role or null */
  verify (user: string, password: string): Promise<Role | null>
}

// scrypt, N = 2^14, r = 8, p = 1: 16 MiB and ≈ 50 ms per check on a desktop core, a few hundred ms on a
// Cortex-A53: cheap for an operator who connects once per command, costly for a guesser. It runs on the
// libuv pool, so the broker keeps serving modules while a password is checked.
const SCRYPT = { N: 16384, r: 8, p: 1 }
const KEY_BYTES = 32

function derive (password: string, salt: Buffer, params: { N: number, r: number, p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { ...params, maxmem: 256 * params.N * params.r }, (err, key) => (err === null ? resolve(key) : reject(err)))
  })
}

/** `scrypt$N$r$p$<salt>$<key>` (base64url): what `outpost passwd` prints and the manifest stores. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, SCRYPT)
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

export async function verifyPassword (password: string, hash: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = hash.split('$')
  if (scheme !== 'scrypt' || salt === undefined || key === undefined) return false
  const expected = Buffer.from(key, 'base64url')
  const params = { N: Number(n), r: Number(r), p: Number(p) }
  try {
    const actual = await derive(password, Buffer.from(salt, 'base64url'), params)
    return actual.length === expected.length && timingSafeEqual(actual, expected)
  } catch {
    return false // parameters scrypt refuses: not a hash we made
  }
}

/** Operators from the manifest. An unknown user costs the same scrypt as a known one, so timing does not tell. */
export function operatorCheck (operators: ReadonlyArray<{ user: string, role: Role, passwordHash: string }>): OperatorCheck {
  const byUser = new Map(operators.map(op => [op.user, op]))
  let decoy: Promise<string> | undefined
  return {
    async verify (user, password) {
      const op = byUser.get(user)
      if (op === undefined) {
        decoy ??= hashPassword(randomBytes(12).toString('hex'))
        await verifyPassword(password, await decoy)
        return null
      }
      return (await verifyPassword(password, op.passwordHash)) ? op.role : null
    },
  }
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function allowsAnonymous (listener: ListenerConfig): boolean {
  return (listener.type === 'tcp' || listener.type === 'unix') && listener.anonymous === true
}

export function createCredentials (operators: OperatorCheck = { verify: async () => null }): Credentials {
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
      if (password === undefined) return { refused: 'bad-credentials', why: `no password given for ${username}` }
      return operators.verify(username, password).then(role => (role === null
        ? { refused: 'bad-credentials' as const, why: `wrong user name or password for ${username}` }
        : { kind: 'operator' as const, clientId, user: username, role }))
    },
  }
}
