// Topic filter matching: the broker's direct path runs it for every message, so it is hand-written; it is
// checked here against the rule as MQTT 3.1.1 states it [MQTT-4.7.1], level by level.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { matchTopic } from '../../core/protocol/topics.js'

/** the specification's rule, written the obvious way */
function byLevels (filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

test('matchTopic: the cases the specification spells out', () => {
  const cases: Array<[string, string, boolean]> = [
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/#', 'sport', true],
    ['#', 'anything/at/all', true],
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['rpc/echo/+', 'rpc/echo/ping', true],
    ['rpc/echo/+', 'rpc/echoes/ping', false],
    ['reply/a.0', 'reply/a.0', true],
    ['reply/a.0', 'reply/a.01', false],
    ['reply/a.01', 'reply/a.0', false],
    ['hooks/+/reading', 'hooks/sensor/reading', true],
    ['hooks/+/reading', 'hooks/sensor/readings', false],
  ]
  for (const [filter, topic, expected] of cases) assert.equal(matchTopic(filter, topic), expected, `${filter} against ${topic}`)
})

test('matchTopic agrees with the level-by-level rule on every combination of short filters and topics', () => {
  const levels = ['', 'a', 'b', 'ab']
  const topics: string[] = []
  for (const x of levels) for (const y of levels) topics.push(x, `${x}/${y}`, `${x}/${y}/a`)
  const filters: string[] = [...topics]
  for (const topic of topics) {
    const parts = topic.split('/')
    for (let i = 0; i < parts.length; i++) {
      filters.push([...parts.slice(0, i), '+', ...parts.slice(i + 1)].join('/'))
      filters.push([...parts.slice(0, i), '#'].join('/'))
    }
  }
  let compared = 0
  for (const filter of filters) {
    for (const topic of topics) {
      assert.equal(matchTopic(filter, topic), byLevels(filter, topic), `${JSON.stringify(filter)} against ${JSON.stringify(topic)}`)
      compared++
    }
  }
  assert.ok(compared > 1000)
})
