// The names a fleet gives a gateway and its topics, shared by the manifest's uplink section and the fleet
// CLI. A file of its own so that the CLI, which `outpost run` loads, does not load zod with the schema.

/** one level of a topic root */
export const TOPIC_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/
/** a gateway's name in the fleet; also what the fleet CLI's --gateway takes */
export const FLEET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** 1–4 levels of [A-Za-z0-9_-]; also what the fleet CLI's --topic-root takes */
export function isTopicRoot (root: string): boolean {
  const levels = root.split('/')
  return levels.length <= 4 && levels.every(l => TOPIC_SEGMENT.test(l))
}
