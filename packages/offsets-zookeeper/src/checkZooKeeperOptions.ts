/** The checks of `ZooKeeperOffsetStore`'s options, and of the names that become znodes: each refuses with a `ConfigError` naming the option, the value and the fix. */
import { ConfigError } from '@dstream/core';

export function checkAuthInfo(value: unknown): { scheme: string; credentials: string } | undefined {
  if (value === undefined) return undefined;
  const { scheme, credentials } = (value ?? {}) as { scheme?: unknown; credentials?: unknown };
  if (typeof value !== 'object' || value === null || typeof scheme !== 'string' || scheme === '' || typeof credentials !== 'string') {
    throw new ConfigError(
      'authInfo',
      value,
      'must be { scheme, credentials } with a non-empty scheme and string credentials',
      'Pass e.g. { scheme: "digest", credentials: "user:password" }, or omit it.',
    );
  }
  return { scheme, credentials };
}

export function checkConnectionString(value: unknown): string {
  if (typeof value !== 'string' || !/^[^\s,/]+:\d{1,5}(,[^\s,/]+:\d{1,5})*(\/[^\s]*)?$/.test(value)) {
    throw new ConfigError(
      'connectionString',
      value,
      'must list host:port pairs separated by commas, optionally followed by a chroot path',
      'Pass e.g. "127.0.0.1:2181" or "zk1:2181,zk2:2181/kafka".',
    );
  }
  const chroot = value.slice(value.indexOf('/') === -1 ? value.length : value.indexOf('/'));
  if (chroot !== '') checkRootLike('connectionString', value, chroot);
  return value;
}

export function checkRoot(value: unknown): string {
  if (typeof value !== 'string') {
    throw new ConfigError('root', value, 'must be a string', 'Pass "" (the default) or an absolute path such as "/dstream".');
  }
  if (value !== '') checkRootLike('root', value, value);
  return value;
}

export function checkRootLike(option: string, value: string, path: string): void {
  const segments = path.split('/').slice(1);
  if (!path.startsWith('/') || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new ConfigError(
      option,
      value,
      'must have a path that starts with "/", has no empty, "." or ".." segment and no trailing "/"',
      'Pass e.g. "/dstream".',
    );
  }
}

export function checkDuration(option: string, value: unknown, minimum: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new ConfigError(option, value, `must be an integer number of milliseconds >= ${minimum}`, `Pass e.g. ${option === 'sessionTimeoutMs' ? 30_000 : 10_000}.`);
  }
  return value;
}

/** A group or topic becomes one znode name: it must not add levels to the layout. */
export function checkPathSegment(what: string, value: string): void {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value === '.' ||
    value === '..' ||
    value.includes('/') ||
    // ZooKeeper refuses these in paths (PathUtils.validatePath); refused here, the error names
    // the value escaped instead of echoing a raw CR/LF into a log line.
    /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/.test(value)
  ) {
    throw new ConfigError(
      what,
      value,
      'must be a non-empty name without "/", control characters or characters ZooKeeper refuses in paths ' +
        '(and not "." or "..") to be a znode name',
      `Rename the ${what}; Kafka ${what === 'topic' ? 'topic names' : 'group ids used with ZooKeeper'} never contain "/".`,
    );
  }
}
