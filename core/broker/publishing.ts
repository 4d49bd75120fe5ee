// Who gets a publish, and which path delivers it. One decision per message: the access rules (access.ts),
// the caller stamp on requests to core, and the RPC router's choice of the one instance that gets a request
// (or the caller that owns a reply topic). QoS 0 messages that are not retained are then delivered by the
// direct path (direct.ts, fed by reader.ts); everything else, and anything the direct path cannot deliver
// itself, by Aedes, which asks the same questions through its authorizePublish and authorizeForward hooks.
import type { Aedes, AedesPublishPacket, Client, PublishPacket } from 'aedes'
import { envelopeFields } from '../protocol/envelope.js'
import { sniffFormat } from '../protocol/codec.js'
import { topicProblem } from '../protocol/topics.js'
import { canPublish, canRead, describe, retainOwner, sameCaller, stampCaller } from './access.js'
import type { Identity } from './access.js'
import { createDirectDelivery } from './direct.js'
import type { BacklogEvents, InProcessDeliver } from './direct.js'
import { STORE_LIMITS } from './limits.js'
import type { StoreLimits } from './limits.js'
import type { QoS0Publish } from './reader.js'
import type { RefusedRequest } from './rpc-router.js'
import { createRetainedLedger } from './retained.js'
import type { RetainedUse } from './retained.js'
import { topicMemo } from './topic-memo.js'
import { createTraffic, isHookTopic } from './traffic.js'
import type { HookCounts, Traffic } from './traffic.js'

export interface PublishingOptions {
  aedes: Aedes
  identityOf (client: Client): Identity | undefined
  /** the RPC router: the instance that gets a request to a module (null: no one, it was answered), or a refusal */
  recipient?: (topic: string, payload: Buffer, caller: Identity) => string | null | RefusedRequest
  /** the RPC router: whether a module's reply answers a request that module holds */
  replied?: (identity: Identity, topic: string, payload: Buffer) => boolean
  drainTimeoutMs: number
  backlog: BacklogEvents
  limits?: Partial<StoreLimits>
}

export interface Publishing {
  /** for Aedes's hook: why the publish is refused, or null (a request to core gets its caller stamped) */
  authorize (client: Client, packet: PublishPacket): string | null
  /** for Aedes's hook: whether this client gets this packet (only the chosen instance gets a request, only a reader what it may read) */
  forward (client: Client, packet: AedesPublishPacket): boolean
  /** for the reader: delivers a QoS 0 publish itself and returns true, or false to leave it to Aedes */
  takeDirect (client: Client): (publish: QoS0Publish) => boolean
  /** in-process subscriptions (the core's own), served by both paths */
  subscribe (filter: string, deliver: InProcessDeliver): Promise<void>
  unsubscribe (filter: string, deliver: InProcessDeliver): Promise<void>
  /** whether `caller` may name `reply` as its reply topic: its own, or one of a connection of the same caller */
  answersTo (caller: Identity, reply: string): boolean
  /** the retained messages one owner (access.ts retainOwner) holds */
  retainedBy (owner: string): RetainedUse
  /** hooks published and delivered, per module instance */
  traffic: Traffic
  /** messages dropped for subscribers that were not reading, on either path */
  readonly dropped: number
  /** counts what Aedes queues for a client until it is written (direct.ts watch): call at its CONNECT */
  watch (client: Client): void
}

/**
 * The one client that gets a publish (a client id), no one (null), every subscriber (undefined), or why it
 * is refused: one decision per message, so only a refusal is an object.
 */
type Decision = string | null | undefined | Refusal
interface Refusal { refused: string }
const EVERY_SUBSCRIBER = undefined
const NO_ONE = null
const isRefusal = (decision: Decision): decision is Refusal => typeof decision === 'object' && decision !== null
/** distinct topics whose access decision is remembered per client */
const REMEMBERED_TOPICS = 256

export function createPublishing (options: PublishingOptions): Publishing {
  const { aedes } = options
  const limits = { ...STORE_LIMITS, ...options.limits }
  const clients = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients
  const retained = createRetainedLedger(limits)
  /** whether a subscribed client gets a message on this topic at all (a subscription may start with a wildcard) */
  const mayRead = (client: Client, topic: string): boolean => {
    const identity = options.identityOf(client)
    return identity !== undefined && canRead(identity, topic)
  }
  const traffic = createTraffic(options.identityOf)
  const direct = createDirectDelivery(aedes, options.drainTimeoutMs, options.backlog, mayRead, traffic.of)
  // what Aedes delivers of a request with one recipient, by payload (Aedes hands every subscriber that buffer)
  const recipients = new WeakMap<Buffer, string | null>()

  // a client publishes on a few topics, again and again: its access decisions are remembered
  const refusals = new WeakMap<Client, Map<string, string | null>>()
  const refusal = (client: Client, identity: Identity, topic: string): string | null => {
    let byTopic = refusals.get(client)
    if (byTopic === undefined) refusals.set(client, byTopic = new Map())
    let why = byTopic.get(topic)
    if (why === undefined) {
      why = topicProblem(topic) ?? (canPublish(identity, topic) ? null : `${describe(identity)} may not publish here`)
      if (byTopic.size >= REMEMBERED_TOPICS) byTopic.clear()
      byTopic.set(topic, why)
    }
    return why
  }

  // reply/<client id>: a caller's reply topic comes again with every call
  const replyRecipient = topicMemo(REMEMBERED_TOPICS, topic => topic.slice('reply/'.length))

  const decide = (client: Client, topic: string, payload: Buffer): Decision => {
    const identity = options.identityOf(client)
    if (identity === undefined) return { refused: 'not authenticated' }
    const refused = refusal(client, identity, topic)
    if (refused !== null) return { refused }
    if (topic.startsWith('rpc/core/')) return EVERY_SUBSCRIBER
    if (topic.startsWith('rpc/')) return options.recipient?.(topic, payload, identity)
    if (topic.startsWith('reply/')) {
      // a module answers only the calls it was given; anything else it sends there goes nowhere
      if (identity.kind === 'module' && options.replied?.(identity, topic, payload) === false) return NO_ONE
      return replyRecipient(topic)
    }
    return EVERY_SUBSCRIBER
  }

  /** a message with one recipient that the direct path cannot reach now: Aedes delivers it, to that recipient only */
  const viaAedes = ({ topic, payload }: QoS0Publish, recipient: string): void => {
    const copy = Buffer.from(payload) // the reader's view is only valid during the call
    recipients.set(copy, recipient)
    aedes.publish({ cmd: 'publish', topic, payload: copy, qos: 0, retain: false, dup: false }, () => {})
  }

  const answersTo = (caller: Identity, reply: string): boolean => {
    if (reply === `reply/${caller.clientId}`) return true
    const other = clients[reply.slice('reply/'.length)]
    const identity = other === undefined ? undefined : options.identityOf(other)
    return identity !== undefined && sameCaller(caller, identity)
  }

  /** a request to core: why it is refused, or null once its caller is stamped on it (access.ts) */
  const toCore = (packet: PublishPacket, identity: Identity): string | null => {
    const payload = packet.payload as Buffer
    const stamped = stampCaller(payload, identity)
    if (stamped === null) return 'the request cannot be encoded again with its caller stamped on it'
    // the reply topic the core will answer on: the decoded one, whatever a repeated key put first
    const reply = stamped === undefined ? envelopeFields(payload, sniffFormat(payload))?.reply : stamped.reply
    if (typeof reply === 'string' && reply.startsWith('reply/') && !answersTo(identity, reply)) {
      return `a request may name only its caller's own reply topic (reply/${identity.clientId})`
    }
    if (stamped !== undefined) packet.payload = stamped.payload
    return null
  }

  return {
    authorize (client, packet) {
      const topic = packet.topic
      if (packet.retain && (topic.startsWith('rpc/') || topic.startsWith('reply/'))) {
        // a retained request would be delivered again at every restart of its module (issue 10 A8)
        return 'RETAIN is refused on rpc/ and reply/ topics'
      }
      const decision = decide(client, topic, packet.payload as Buffer)
      if (isRefusal(decision)) return decision.refused
      const identity = options.identityOf(client) as Identity
      if (packet.retain) {
        const refused = retained.keep(retainOwner(identity), topic, (packet.payload as Buffer).length)
        if (refused !== null) return refused
      }
      if (decision !== undefined) recipients.set(packet.payload as Buffer, decision)
      else if (topic.startsWith('rpc/core/')) return toCore(packet, identity)
      else if (isHookTopic(topic)) traffic.of(client).out++
      return null
    },

    forward (client, packet) {
      const recipient = recipients.get(packet.payload as Buffer)
      // a client that is not reading gets nothing more past its backlog, as on the direct path (review 7: a viewer
      // asking for logs without reading held 137 MB of the core's memory in its socket)
      const forwarded = (recipient === undefined || recipient === client.id) && mayRead(client, packet.topic) && !direct.behind(client, packet)
      if (forwarded && isHookTopic(packet.topic)) traffic.of(client).in++
      return forwarded
    },

    takeDirect: client => {
      let hooks: HookCounts | undefined // found at the first hook: the client is authenticated by then
      return publish => {
        const { topic, payload } = publish
        // requests to core get their caller stamped on Aedes's path; $ topics are the broker's own
        if (topic.startsWith('rpc/core/') || topic.startsWith('$')) return false
        try {
          const recipient = decide(client, topic, payload)
          if (isRefusal(recipient)) return false // Aedes refuses it and closes the connection
          if (recipient === null) return true // no one gets it: answered by the router, or a reply not owed
          if (recipient === undefined) {
            direct.publish(publish)
            if (isHookTopic(topic)) (hooks ??= traffic.of(client)).out++
          } else if (!direct.publishTo(recipient, publish)) viaAedes(publish, recipient)
          return true
        } catch {
          // nothing a client sends may throw out of the reader: Aedes asks the same questions (authorize),
          // and broker.ts turns a throw there into a logged refusal
          return false
        }
      }
    },

    subscribe (filter, deliver) {
      direct.addInProcess(filter, deliver)
      return new Promise(resolve => aedes.subscribe(filter, deliver, () => resolve()))
    },

    unsubscribe (filter, deliver) {
      direct.removeInProcess(filter, deliver)
      return new Promise(resolve => aedes.unsubscribe(filter, deliver, () => resolve()))
    },

    answersTo,
    retainedBy: owner => retained.of(owner),
    traffic,
    get dropped () {
      return direct.dropped
    },
    watch: direct.watch,
  }
}
