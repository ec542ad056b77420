/**
 * Labelled prom-client histogram children, made once per distinct label set
 * so that a hot path observes into a child it already has instead of asking
 * `histogram.labels()` on every request. Callers name each label set by a
 * plain string id they can build cheaply.
 */
import type { Histogram, LabelValues } from 'prom-client'

export type ChildOf<T extends string> = (id: string, labels: LabelValues<T>) => Histogram.Internal<T>

export function cachedChildren<T extends string>(histogram: Histogram<T>): ChildOf<T> {
  const children = new Map<string, Histogram.Internal<T>>()
  return (id, labels) => {
    let child = children.get(id)
    if (child === undefined) {
      child = histogram.labels(labels)
      children.set(id, child)
    }
    return child
  }
}
