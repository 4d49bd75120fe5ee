// What the broker derives from a topic (a module name, a recipient), remembered per topic: a client sends
// on a few topics again and again, and the reader hands over one string per topic, so a lookup replaces a
// slice per message. Bounded: past `limit` topics it starts over.

export function topicMemo<V> (limit: number, derive: (topic: string) => V): (topic: string) => V {
  const remembered = new Map<string, V>()
  return topic => {
    let value = remembered.get(topic)
    if (value === undefined) {
      value = derive(topic)
      if (remembered.size >= limit) remembered.clear()
      remembered.set(topic, value)
    }
    return value
  }
}
