import { randomBytes } from 'node:crypto';

/**
 * A name no other test or earlier run uses: `<prefix>-<time>-<random>`. Topics, groups, keys and
 * tables of the shared services get one each, so tests never see each other's data.
 *
 * @example
 * const topic = uniqueName('orders');
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
