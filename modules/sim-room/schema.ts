// sim-room: the simulated plant of the `sim` board — a room heated through a relay line and measured by a
// DS18B20 on the simulated 1-Wire bus.
import { z } from 'zod'

export const config = z.object({
  heaterLine: z.string().default('GPIO17'),
  sensorId: z.string().regex(/^28-[0-9a-f]{12}$/).default('28-00000a1b2c3d'),
  bus: z.string().default('w1'),
  ambient: z.number().default(15),
  start: z.number().default(18),
  /** °C per second while the heater is on */
  heatRate: z.number().default(0.4),
  /** fraction of the gap to ambient lost per second */
  lossRate: z.number().default(0.02),
  stepMs: z.number().int().min(50).default(250),
}).strict()

export type Config = z.infer<typeof config>
