// ds18b20: 1-Wire temperature sensors through the kernel's w1 sysfs files. See docs/drivers/ds18b20.md.
import { z } from 'zod'

export const config = z.object({
  /** the board's 1-Wire bus name */
  bus: z.string().default('w1'),
  intervalMs: z.number().int().min(250).default(1000),
  /** friendly names by sensor id (28-xxxxxxxxxxxx); unnamed sensors report by id */
  names: z.record(z.string().regex(/^28-[0-9a-f]{12}$/), z.string()).default({}),
}).strict()

export type Config = z.infer<typeof config>

export const claims = (c: Config) => [{ kind: 'onewire' as const, resource: c.bus }]
