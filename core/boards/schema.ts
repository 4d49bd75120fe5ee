// Board definitions are data (boards/<name>.json); this schema is their contract (docs/boards.md).
// Cross-references (unique line names, pins that name real lines, path style) are checked here too, so a
// broken board file fails at load with the JSON path of the mistake.
import path from 'node:path'
import { z } from 'zod'
import { aliasesOf } from './lines.js'

const line = z.object({
  offset: z.number().int().min(0),
  /** the SoC or kernel line name, e.g. GPIO17 or GPIO1_28 */
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'expected a line name such as GPIO17 (letters, digits, _)'),
  /** physical header pin, addressable as pin<N> (single-header boards) */
  pin: z.number().int().min(1).optional(),
  /** header position on multi-header boards, e.g. P9_12 */
  header: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'expected a header name such as P9_12').optional(),
}).strict()

const chip = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/, 'expected a short id such as main or gpio0'),
  /** found by label, never by number: chip numbers change between kernels */
  label: z.string().min(1),
  lines: z.array(line),
}).strict()

const device = z.object({
  path: z.string().min(1),
  /** the lines the device occupies (any alias: GPIO14, pin8, P9_24) */
  pins: z.array(z.string()).default([]),
  note: z.string().optional(),
}).strict()

const devices = z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a device key such as serial0'), device).default({})

export const boardSchema = z.object({
  name: z.string().regex(/^[a-z0-9-]+$/, 'expected lower-case letters, digits and -'),
  title: z.string().min(1),
  /** prefixes of /proc/device-tree/model that identify this board */
  match: z.array(z.string().min(1)).default([]),
  /** RAM of the smallest variant, for the memory-budget check */
  ramMiB: z.number().int().min(64),
  /** simulated boards keep every device path relative to the gateway's simulation root */
  simulated: z.boolean().default(false),
  gpio: z.object({
    backend: z.enum(['cdev', 'sysfs', 'sim']),
    chips: z.array(chip).default([]),
    /** lines not declared here may be opened by their kernel line name (found at run time) */
    kernelLineNames: z.boolean().default(false),
  }).strict(),
  uarts: devices,
  i2c: devices,
  onewire: devices,
}).strict().superRefine((board, ctx) => {
  const issue = (where: PropertyKey[], message: string): void => { ctx.addIssue({ code: 'custom', path: where, message }) }
  if (board.simulated !== (board.gpio.backend === 'sim')) {
    issue(['gpio', 'backend'], board.simulated ? 'a simulated board uses the "sim" backend' : 'the "sim" backend is only for boards with "simulated": true')
  }
  if (board.gpio.kernelLineNames && board.gpio.backend !== 'cdev') issue(['gpio', 'kernelLineNames'], 'kernel line names need the "cdev" backend (sysfs and sim have no line names)')

  const seen = new Map<string, string>()
  const chipKeys = new Set<string>()
  board.gpio.chips.forEach((c, i) => {
    for (const key of [`id ${c.id}`, `label ${c.label}`]) {
      if (chipKeys.has(key)) issue(['gpio', 'chips', i], `duplicate chip ${key}`)
      chipKeys.add(key)
    }
    const offsets = new Set<number>()
    c.lines.forEach((l, j) => {
      if (offsets.has(l.offset)) issue(['gpio', 'chips', i, 'lines', j, 'offset'], `offset ${l.offset} appears twice on chip ${c.id}`)
      offsets.add(l.offset)
      if (/^pin\d+$/.test(l.name) || (l.header !== undefined && /^pin\d+$/.test(l.header))) issue(['gpio', 'chips', i, 'lines', j], 'pin<N> is reserved for physical pin numbers')
      for (const alias of aliasesOf(l)) {
        const where = `gpio.chips[${i}].lines[${j}]`
        const first = seen.get(alias)
        if (first !== undefined) issue(['gpio', 'chips', i, 'lines', j], `"${alias}" already names ${first}`)
        else seen.set(alias, where)
      }
    })
  })

  for (const kind of ['uarts', 'i2c', 'onewire'] as const) {
    for (const [key, d] of Object.entries(board[kind])) {
      const absolute = path.isAbsolute(d.path)
      if (board.simulated && (absolute || d.path.split('/').includes('..'))) issue([kind, key, 'path'], 'a simulated board\'s paths are relative to the simulation root (no leading / or ..)')
      if (!board.simulated && !absolute) issue([kind, key, 'path'], 'expected an absolute device path such as /dev/ttyAMA0')
      d.pins.forEach((pin, k) => {
        if (!seen.has(pin)) issue([kind, key, 'pins', k], `no line "${pin}" on this board`)
      })
    }
  }
})

export type Board = z.infer<typeof boardSchema>
export type BoardLine = z.infer<typeof line>
