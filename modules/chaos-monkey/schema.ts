// chaos-monkey: calls `<target>.crash` now and then, to show that one module's crash costs its neighbours
// nothing but a short gap.
import { z } from 'zod'

export const config = z.object({
  targets: z.array(z.string()).min(1),
  everySeconds: z.number().min(1).default(30),
}).strict()

export type Config = z.infer<typeof config>
