/** Checks a context's stream graph and its timeouts before they are used. */
import { ConfigError } from '../errors';
import type { ScheduledStream, StreamingContextLike } from './types';

/** Every stream an output reads must belong to `context` and slide on a multiple of its interval. */
export function checkGraph(context: StreamingContextLike, stream: ScheduledStream, visited = new Set<ScheduledStream>()): void {
  if (visited.has(stream)) return;
  visited.add(stream);
  if (stream.context !== context) {
    throw new ConfigError(
      `${stream.node.name} stream`,
      stream.node.name,
      'must belong to this StreamingContext',
      'Combine only streams created from inputs of the same context.',
    );
  }
  const slide = stream.slideDurationMs;
  if (!Number.isSafeInteger(slide) || slide <= 0 || slide % context.batchIntervalMs !== 0) {
    throw new ConfigError(
      `${stream.node.name} slideDurationMs`,
      slide,
      `must be a positive multiple of batchIntervalMs ${context.batchIntervalMs}`,
      'Use window and slide durations that are multiples of the batch interval.',
    );
  }
  for (const dependency of stream.dependencies) checkGraph(context, dependency, visited);
}

/** A timeout option: milliseconds >= 0, Infinity for none. */
export function checkTimeout(option: string, value: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new ConfigError(option, value, 'must be a number of milliseconds >= 0', 'Pass e.g. 30000, or Infinity for no bound.');
  }
}
