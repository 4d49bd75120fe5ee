// The traces newest first, as `list` answers them, for each filter it takes: all, those with an error, and
// per module those with a span of the module, all and with an error. Each view is sorted by start, ties in
// the order the traces came (what a stable sort of the traces by start gave), so a list reads only the
// traces it answers. A trace is in 2 + 2 × (its modules) views at most: at most 4 entries per span kept.
import { createSorted } from './sorted.js'
import type { Place, Sorted } from './sorted.js'

/** what the views read of a trace: its start, error and modules change only within `update` */
export interface Keys<T> {
  /** the order traces came in */
  seq (trace: T): number
  start (trace: T): number
  error (trace: T): boolean
  modules (trace: T): Iterable<string>
}

export interface Recent<T> {
  /** when it comes */
  insert (trace: T): void
  /** `change` may lower its start, give it an error or modules, never take them away */
  update (trace: T, change: () => void): void
  /** when it goes */
  remove (trace: T): void
  /** the traces of the filter, newest first */
  newest (filter: { module?: string | undefined, errorsOnly?: boolean | undefined }): Iterable<T>
}

export function createRecent<T> (keys: Keys<T>): Recent<T> {
  // ascending by start, ties newest first, so that reading from the end gives the newest, ties oldest first
  const order = (a: T, b: T): number => keys.start(a) - keys.start(b) || keys.seq(b) - keys.seq(a)
  const all = createSorted(order)
  const errors = createSorted(order)
  // a module's views go when its last trace goes, so they are bounded by the modules of the traces kept
  const byModule = new Map<string, Sorted<T>>()
  const errorsByModule = new Map<string, Sorted<T>>()

  const leave = (map: Map<string, Sorted<T>>, module: string, trace: T): void => {
    const view = map.get(module)
    view?.delete(trace)
    if (view?.size === 0) map.delete(module)
  }
  /** the views `trace` belongs in (a module's created if `create`) */
  const viewsOf = (trace: T, create: boolean): Array<Sorted<T>> => {
    const error = keys.error(trace)
    const views = error ? [all, errors] : [all]
    const add = (map: Map<string, Sorted<T>>, module: string): void => {
      let view = map.get(module)
      if (view === undefined && create) map.set(module, view = createSorted(order))
      if (view !== undefined) views.push(view)
    }
    for (const module of keys.modules(trace)) {
      add(byModule, module)
      if (error) add(errorsByModule, module)
    }
    return views
  }
  const empty: T[] = []

  return {
    insert (trace) {
      for (const view of viewsOf(trace, true)) view.insert(trace)
    },

    update (trace, change) {
      const before = viewsOf(trace, false)
      const places = before.map(view => view.find(trace) as Place)
      change()
      before.forEach((view, i) => view.lowered(places[i] as Place))
      for (const view of viewsOf(trace, true)) if (!before.includes(view)) view.insert(trace)
    },

    remove (trace) {
      const error = keys.error(trace)
      all.delete(trace)
      if (error) errors.delete(trace)
      for (const module of keys.modules(trace)) {
        leave(byModule, module, trace)
        if (error) leave(errorsByModule, module, trace)
      }
    },

    newest ({ module, errorsOnly }) {
      const view = module === undefined ? (errorsOnly === true ? errors : all) : (errorsOnly === true ? errorsByModule : byModule).get(module)
      return view?.descending() ?? empty
    },
  }
}
