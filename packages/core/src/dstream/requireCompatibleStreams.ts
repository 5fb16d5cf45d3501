import { ConfigError } from '../errors';
import { DStream } from './graph';

/**
 * Throws `ConfigError` unless every one of `others` is a DStream of the same StreamingContext
 * with the same slide as `source`: the rule Spark's `UnionDStream` and `TransformedDStream`
 * enforce, since batches of streams on different slides or graphs never line up.
 */
export function requireCompatibleStreams(
  operator: string,
  source: DStream<unknown>,
  others: readonly unknown[],
): void {
  others.forEach((other, index) => {
    const argument = `${operator}(other${others.length > 1 ? ` #${index + 1}` : ''})`;
    if (!(other instanceof DStream)) {
      throw new ConfigError(argument, other, 'must be a DStream', 'Pass a stream built on the same StreamingContext.');
    }
    if (other.context !== source.context) {
      throw new ConfigError(
        argument,
        other.node.name,
        'must belong to the same StreamingContext as the stream it is combined with',
        'Build both streams from one StreamingContext.',
      );
    }
    if (other.slideDurationMs !== source.slideDurationMs) {
      throw new ConfigError(
        argument,
        other.slideDurationMs,
        `must have the same slide duration as the stream it is combined with (${source.slideDurationMs} ms)`,
        'Window both streams with the same slide, or combine streams of the same batch interval.',
      );
    }
  });
}
