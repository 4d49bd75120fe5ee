// gpio-output: relays, LEDs. See docs/drivers/gpio-output.md.
import { z } from 'zod'

export const config = z.object({
  /** the board's line name (GPIO17) or header pin (pin11) */
  line: z.string().min(1),
  activeLow: z.boolean().default(false),
  /** the value the line takes at start and returns to when the driver stops or crashes */
  safeState: z.union([z.literal(0), z.literal(1)]).default(0),
}).strict()

export type Config = z.infer<typeof config>

export const claims = (c: Config) => [{ kind: 'gpio' as const, resource: c.line }]
