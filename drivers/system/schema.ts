// system: the gateway's own health — CPU temperature, load, memory, disk. See docs/drivers/system.md.
import { z } from 'zod'

export const config = z.object({
  intervalMs: z.number().int().min(1000).default(10_000),
  /** filesystems to report, by mount point */
  disks: z.array(z.string()).default(['/']),
  /** where the kernel's files are (tests point this at a fake tree) */
  procRoot: z.string().default('/proc'),
  sysRoot: z.string().default('/sys'),
}).strict()

export type Config = z.infer<typeof config>
