// The management methods' arguments: every problem named with its path, what was expected and what was found.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addArgs, configureArgs, logsArgs, moduleArgs, parseArgs } from '../../core/management/args.js'

function problem (method: string, read: Parameters<typeof parseArgs>[1], args: unknown): string {
  try {
    parseArgs(method, read, args)
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'BAD_ARGUMENTS')
    return (err as Error).message
  }
  assert.fail('the arguments were accepted')
}

test('arguments are checked field by field, unknown keys refused, every problem in one message', () => {
  assert.deepEqual(parseArgs('start', moduleArgs, { module: 'relay' }), { module: 'relay' })
  assert.equal(problem('start', moduleArgs, null), 'core.start: module: expected a non-empty text, found nothing')
  assert.equal(problem('start', moduleArgs, [1]), 'core.start: args: expected a map, found an array')
  assert.equal(problem('stop', moduleArgs, { module: 5, x: 1, y: 2 }), 'core.stop: module: expected a non-empty text, found number 5; args: unknown keys "x", "y"')
  assert.equal(problem('add', addArgs, { spec: { entry: 'drivers/gpio-output' }, start: 'yes' }), 'core.add: spec.name: expected a non-empty text, found nothing; start: expected true or false, found the text "yes"')
  // null is not absence: only configure's memoryMiB and restart take it (back to the default)
  assert.equal(problem('add', addArgs, { spec: { name: 'fan', entry: 'drivers/gpio-output' }, start: null }), 'core.add: start: expected true or false, found null')
  assert.equal(problem('add', addArgs, null), 'core.add: spec: expected a map, found nothing')
  assert.equal(problem('configure', configureArgs, { module: 'relay' }), 'core.configure: args: nothing to change: give at least one of config, memoryMiB, instances, restart, enabled')
  assert.equal(problem('configure', configureArgs, { module: 'relay', memoryMiB: '64', restart: [] }), 'core.configure: memoryMiB: expected a number or null, found the text "64"; restart: expected a map or null, found an array')
  assert.deepEqual(parseArgs('configure', configureArgs, { module: 'relay', memoryMiB: null }), { module: 'relay', memoryMiB: null, config: undefined, instances: undefined, restart: undefined, enabled: undefined })
  assert.deepEqual(parseArgs('logs', logsArgs, {}), { module: undefined, lines: 100, since: undefined, level: undefined })
  assert.equal(problem('logs', logsArgs, { lines: 1.5, level: 'loud' }), 'core.logs: lines: expected a whole number from 1 to 1000, found number 1.5; level: expected one of "error", "warn", "info", "debug", found the text "loud"')
})
