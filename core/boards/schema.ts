// Board definitions are data (boards/<name>.json); this schema is their contract (docs/boards.md).
import { z } from 'zod'

const line = z.object({
  offset: z.number().int().min(0),
  /** the header or SoC name, e.g. GPIO17 or P9_12 */
  name: z.string().min(1),
  /** physical header pin, addressable as pin<N> */
  pin: z.number().int().min(1).optional(),
}).strict()

const chip = z.object({
  id: z.string().min(1),
  /** found by label, never by number: chip numbers change between kernels */
  label: z.string().min(1),
  lines: z.array(line),
}).strict()

const device = z.object({
  path: z.string().min(1),
  pins: z.array(z.string()).default([]),
  note: z.string().optional(),
}).strict()

export const boardSchema = z.object({
  name: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string(),
  /** prefixes of /proc/device-tree/model that identify this board */
  match: z.array(z.string()).default([]),
  /** RAM of the smallest variant, for the memory-budget check */
  ramMiB: z.number().int().min(64),
  /** simulated boards keep every device path relative to the gateway's simulation root */
  simulated: z.boolean().default(false),
  gpio: z.object({
    backend: z.enum(['cdev', 'sysfs', 'sim']),
    chips: z.array(chip).default([]),
  }).strict(),
  uarts: z.record(z.string(), device).default({}),
  i2c: z.record(z.string(), device).default({}),
  onewire: z.record(z.string(), device).default({}),
}).strict()

export type Board = z.infer<typeof boardSchema>
