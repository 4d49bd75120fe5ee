// The steps of an update, apart from the code that takes them: the core loads this at every start (to resume or
// roll back an update), and the update machinery (stage.ts: tar, signatures, downloads) only when an update runs.

/**
 * The boundaries between the steps of an update, in order. `OUTPOST_UPDATE_CRASH_AT=<step>` makes the core
 * SIGKILL itself there: the tests cut an update at each one and check that the gateway boots (a power cut,
 * in effect). Unset, it costs one comparison per step.
 */
export const UPDATE_STEPS = ['downloaded', 'verified', 'unpacked', 'trial-written', 'switched', 'healthy', 'rollback-written'] as const
export type UpdateStep = typeof UPDATE_STEPS[number]
/** a module update's own steps (management/module-update.ts), after the shared `downloaded` and `verified` */
export const MODULE_UPDATE_STEPS = ['module-unpacked', 'module-trial-written', 'module-switched', 'module-healthy', 'module-rollback-written'] as const
export type ModuleUpdateStep = typeof MODULE_UPDATE_STEPS[number]

export function checkpoint (step: UpdateStep | ModuleUpdateStep): void {
  if (process.env.OUTPOST_UPDATE_CRASH_AT === step) process.kill(process.pid, 'SIGKILL')
}
