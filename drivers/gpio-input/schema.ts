// gpio-input: buttons, PIR sensors, reed switches. See docs/drivers/gpio-input.md.
import { z } from 'zod'

export const config = z.object({
  /** the board's line name (GPIO17) or header pin (pin11) */
  line: z.string().min(1),
  /** a button to ground with a pull-up reads 0 when pressed: say activeLow so 1 means "pressed" */
  activeLow: z.boolean().default(false),
  /** the SoC's internal resistor: `pull-up` for a button to ground (cdev backend; sysfs cannot set it) */
  bias: z.enum(['pull-up', 'pull-down', 'disable', 'as-is']).default('as-is'),
  /** contacts bounce for a few ms; an edge counts once the level has held this long */
  debounceMs: z.number().int().min(0).max(1000).default(20),
  /** the hook name suffix: edges are emitted on hooks/<module>/edge/<name> */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('input'),
}).strict()

export type Config = z.infer<typeof config>

export const claims = (c: Config) => [{ kind: 'gpio' as const, resource: c.line }]
