// Who may connect with which client id. A client id names a session, a reply topic (reply/<client id>) and,
// for modules, an instance; so it must be safe inside a topic, and one identity's id must not be taken by
// another (a CONNECT with a connected id ends that connection, MQTT 3.1.1 [MQTT-3.1.4-2]).
import type { Identity } from './access.js'
import { parseClientId } from '../protocol/topics.js'

/** MQTT 3.1.1 lets a server refuse ids longer than 23 bytes [MQTT-3.1.3-5]; this one takes up to 128 bytes of UTF-8. */
export const MAX_CLIENT_ID_BYTES = 128

// U+0000 [MQTT-1.5.3-2], the other C0 and C1 control characters and DEL (MQTT 1.5.3: "SHOULD NOT"), and U+FFFD,
// which is what an invalid UTF-8 sequence decodes to [MQTT-1.5.3-1]: a client id holding it is refused as not UTF-8.
const CONTROL_OR_INVALID = /[\u0000-\u001f\u007f-\u009f\ufffd]/

/** null when `clientId` may name a session; else what is wrong with it. */
export function clientIdProblem (clientId: string): string | null {
  if (Buffer.byteLength(clientId) > MAX_CLIENT_ID_BYTES) return `a client id of more than ${MAX_CLIENT_ID_BYTES} bytes`
  if (/[/+#]/.test(clientId)) return 'a client id with "/", "+" or "#" (it names the topic reply/<client id>)'
  if (CONTROL_OR_INVALID.test(clientId)) return 'a client id with a control character or invalid UTF-8'
  return null
}

/** Two authentications are the same identity: the same module instance, the same operator, or both anonymous. */
function sameIdentity (a: Identity, b: Identity): boolean {
  switch (a.kind) {
    case 'module': return b.kind === 'module' && a.clientId === b.clientId
    case 'operator': return b.kind === 'operator' && a.user === b.user
    case 'anonymous': return b.kind === 'anonymous'
  }
}

/** client ids whose persistent session (clean session 0) outlives its connection, remembered at once */
export const MAX_PERSISTENT_SESSIONS = 4096

export interface SessionOwners {
  /**
   * null when `identity` may connect with its client id now (`clean`: with clean session 1); else the
   * CONNACK return code and why: 2 (identifier rejected) for an id another identity holds, 3 (server
   * unavailable) when no more persistent sessions may be kept
   */
  refusal (identity: Identity, clean: boolean): { returnCode: 2 | 3, why: string } | null
  /** the identity now holds its client id's session, until the connection ends (clean session) or for as long as the session lives */
  hold (identity: Identity, clean: boolean, closed: (release: () => void) => void): void
}

/**
 * Sessions by client id, and who holds each. A client id of the form <module>.<n> belongs to module
 * credentials only (each credential is bound to its own id, credentials.ts), so no operator can knock a
 * module off or wait in its place; any other id belongs to whoever holds its session. The same identity
 * reconnecting takes its session over, as MQTT says; another identity is refused.
 */
export function sessionOwners (): SessionOwners {
  // one entry per session Aedes keeps: while connected, and after for a persistent (clean session 0) one
  const owners = new Map<string, { identity: Identity, token: object, persistent: boolean }>()
  let persistent = 0
  return {
    refusal (identity, clean) {
      if (identity.kind !== 'module' && parseClientId(identity.clientId) !== null) {
        return { returnCode: 2, why: `client id ${identity.clientId} has the form <module>.<instance>, which only module processes may use` }
      }
      const owner = owners.get(identity.clientId)
      if (owner !== undefined && !sameIdentity(owner.identity, identity)) return { returnCode: 2, why: `client id ${identity.clientId} is held by another identity` }
      if (!clean && owner?.persistent !== true && persistent >= MAX_PERSISTENT_SESSIONS) {
        return { returnCode: 3, why: `the broker keeps its maximum of ${MAX_PERSISTENT_SESSIONS} persistent sessions: connect with clean session 1` }
      }
      return null
    },
    hold (identity, clean, closed) {
      const token = {}
      if (owners.get(identity.clientId)?.persistent === true) persistent--
      owners.set(identity.clientId, { identity, token, persistent: !clean })
      if (!clean) {
        persistent++ // the session outlives the connection: so does its owner
        return
      }
      closed(() => {
        if (owners.get(identity.clientId)?.token === token) owners.delete(identity.clientId)
      })
    },
  }
}
