// What of a request or a manifest entry may be a secret, and how it is shown to those who may not read it:
// a config's values (an API key, a password), a command's arguments (`--token …`) and the credentials of a URL.
// Admins see them in answers; viewers, modules and the audit trail (which viewers read) see their shape only.
import type { Caller } from '../broker/access.js'

/** whether the caller sees secrets in answers: an operator or anonymous client with the admin role */
export const seesSecrets = (caller: Caller | null): boolean => caller !== null && caller.kind !== 'module' && caller.role === 'admin'

/** a command with its program kept and its arguments as null */
export const withoutArguments = (command: string[]): Array<string | null> => command.map((word, i) => i === 0 ? word : null)

/** a config's keys with null values */
export function configKeys (config: unknown): unknown {
  return config !== null && typeof config === 'object' && !Array.isArray(config) ? Object.fromEntries(Object.keys(config).map(key => [key, null])) : config
}

/** a URL without its user and password (`scheme://user:password@host…`); anything else as it is */
export const urlWithoutCredentials = (text: string): string => text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1')
