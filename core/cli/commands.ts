// The management commands of `outpost` (docs/management.md), loaded by cli/main.ts for every command but
// `run`: the gateway has no use for them.
import type { Command } from './command.js'
import { editCommands } from './edit.js'
import { fleet } from './fleet.js'
import { manageCommands } from './manage.js'
import { passwd } from './passwd.js'
import { keygen, release } from './release.js'
import { top } from './top.js'
import { trace } from './trace.js'
import { update } from './update.js'
import { watchCommands } from './watch.js'

export const commands: Record<string, Command> = {
  ...manageCommands,
  ...editCommands,
  ...watchCommands,
  top,
  trace,
  fleet,
  passwd,
  keygen,
  release,
  update,
}
