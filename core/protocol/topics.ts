// The public MQTT topic map. docs/protocol.md documents exactly these families; nothing else is published
// by Outpost except retained state under `state/` and presence under `presence/`.

export const CORE_MODULE = 'core'

const MODULE_NAME = /^[a-z][a-z0-9-]{0,31}$/
const METHOD_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/
const HOOK_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/

export function isModuleName (name: string): boolean {
  return MODULE_NAME.test(name)
}

export function isMethodName (name: string): boolean {
  return METHOD_NAME.test(name)
}

/** Hook names may have several levels (`edge/button1`), each a plain segment without wildcards. */
export function isHookName (name: string): boolean {
  const segments = name.split('/')
  return segments.length <= 4 && segments.every(s => HOOK_SEGMENT.test(s))
}

/** The MQTT client id of one module process: `<module>.<instance>`. Dots never occur in module names. */
export function clientIdOf (module: string, instance: number): string {
  return `${module}.${instance}`
}

export function parseClientId (clientId: string): { module: string, instance: number } | null {
  const dot = clientId.lastIndexOf('.')
  if (dot <= 0) return null
  const module = clientId.slice(0, dot)
  const instance = Number(clientId.slice(dot + 1))
  if (!isModuleName(module) || !Number.isInteger(instance) || instance < 0) return null
  return { module, instance }
}

export const topics = {
  hook: (module: string, hook: string) => `hooks/${module}/${hook}`,
  rpc: (module: string, method: string) => `rpc/${module}/${method}`,
  rpcAll: (module: string) => `rpc/${module}/+`,
  reply: (clientId: string) => `reply/${clientId}`,
  presence: (module: string, instance: number) => `presence/${module}/${instance}`,
  state: (module: string) => `state/${module}`,
  spans: (module: string, instance: number) => `spans/${module}/${instance}`,
}

export type TopicKind = 'hook' | 'rpc' | 'reply' | 'presence' | 'state' | 'spans'

export interface ParsedTopic {
  kind: TopicKind
  /** hook/rpc/presence/state: the module; reply: the client id the reply is addressed to */
  owner: string
  /** hook: the hook name; rpc: the method; presence and spans: the instance number as text */
  name: string
}

/** Splits a concrete topic into its family. Returns null for topics outside the protocol. */
export function parseTopic (topic: string): ParsedTopic | null {
  const first = topic.indexOf('/')
  if (first <= 0) return null
  const family = topic.slice(0, first)
  const rest = topic.slice(first + 1)
  const second = rest.indexOf('/')
  const owner = second === -1 ? rest : rest.slice(0, second)
  const name = second === -1 ? '' : rest.slice(second + 1)
  switch (family) {
    case 'hooks': return name === '' ? null : { kind: 'hook', owner, name }
    case 'rpc': return name === '' || name.includes('/') ? null : { kind: 'rpc', owner, name }
    case 'reply': return second === -1 ? { kind: 'reply', owner, name: '' } : null
    case 'presence': return name === '' ? null : { kind: 'presence', owner, name }
    case 'state': return second === -1 ? { kind: 'state', owner, name: '' } : null
    case 'spans': return name === '' || name.includes('/') ? null : { kind: 'spans', owner, name }
    default: return null
  }
}

/** Aedes's own ceiling (its topic matcher, qlobber, allows no more): one limit for every route. */
export const MAX_TOPIC_LEVELS = 100
/**
 * The longest topic or subscription filter, in bytes of UTF-8: the protocol's own topics are ≈ 300 bytes at
 * most (a 128-byte reply/<client id>, hooks/<module>/<4 levels of 64>), and every topic a client names can be
 * kept by the broker's caches for a while (issue 10 review: 4096 topics of 64 KiB held 260 MiB)
 */
export const MAX_TOPIC_BYTES = 1024

/** Whether a topic or filter is longer than MAX_TOPIC_BYTES (a UTF-16 unit is at most 3 bytes: most need no count). */
export function topicTooLong (topic: string): boolean {
  return topic.length * 3 > MAX_TOPIC_BYTES && Buffer.byteLength(topic) > MAX_TOPIC_BYTES
}

/**
 * Why a PUBLISH topic is malformed, or null: the one rule for the broker's direct path and for Aedes, whose
 * refusal closes the connection. A topic's bytes reach here decoded as UTF-8, which turns every ill-formed
 * sequence (overlong forms, encoded surrogates, stray bytes) into U+FFFD, so U+FFFD stands for them (and a
 * well-formed U+FFFD is refused with them).
 */
export function topicProblem (topic: string): string | null {
  if (topic.length === 0) return 'the topic is empty [MQTT-4.7.3-1]'
  if (topicTooLong(topic)) return `the topic is longer than ${MAX_TOPIC_BYTES} bytes`
  let levels = 1
  for (let i = 0; i < topic.length; i++) {
    switch (topic.charCodeAt(i)) {
      case 47: levels++; break // '/'
      case 43: case 35: return 'a PUBLISH topic may not contain a wildcard [MQTT-3.3.2-2]'
      case 0: return 'the topic contains U+0000 [MQTT-1.5.3-2]'
      case 0xfffd: return 'the topic is not well-formed UTF-8 [MQTT-1.5.3-1]'
    }
  }
  return levels > MAX_TOPIC_LEVELS ? `the topic has more than ${MAX_TOPIC_LEVELS} levels` : null
}

/**
 * Turns a subscription pattern over hooks, written `<module>/<hook>` with MQTT wildcards
 * (`sensor/+`, `+/reading`, `#`), into the MQTT topic filter.
 */
export function hookFilter (pattern: string): string {
  return `hooks/${pattern}`
}

/**
 * MQTT topic filter matching with `+` and `#` [MQTT-4.7.1]. Runs for every message the broker delivers
 * itself, so it walks both strings in place instead of splitting them.
 */
export function matchTopic (filter: string, topic: string): boolean {
  const SLASH = 47
  let f = 0
  let t = 0
  while (f < filter.length) {
    const c = filter.charCodeAt(f)
    if (c === 35) return true // '#': this level and everything below (also the parent: a/# matches a)
    if (c === 43) { // '+': exactly one level, possibly empty
      while (t < topic.length && topic.charCodeAt(t) !== SLASH) t++
      f++
      continue
    }
    if (t < topic.length && topic.charCodeAt(t) === c) {
      f++
      t++
      continue
    }
    // the topic ended where the filter goes on with "/#"
    return t === topic.length && c === SLASH && f + 2 === filter.length && filter.charCodeAt(f + 1) === 35
  }
  return t === topic.length
}
