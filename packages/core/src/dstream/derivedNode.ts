import type { DStream, DStreamNode } from './graph';

/**
 * A node computed from `dependencies` (all on one slide, checked by the operator) by `compute`:
 * the shape of every operator that is not fused, from `transform` to `cogroup`.
 */
export function derivedNode<T>(
  name: string,
  dependencies: readonly DStream<unknown>[],
  compute: (time: number) => Promise<readonly T[]>,
): DStreamNode<T> {
  return { name, slideDurationMs: dependencies[0].slideDurationMs, dependencies, compute };
}
