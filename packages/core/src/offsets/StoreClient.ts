import { AuthenticationError, ConfigError, DStreamError, OffsetStoreError } from '../errors';
import { driverError } from '../util/redact';
import type { OffsetStoreBinding } from './OffsetStore';

/**
 * What a store package hands to `StoreClient` (Effect's `Client.make` is the model): how to open
 * and release its backend connection, and how to word its driver's failures. Everything else of
 * the life cycle is the client's.
 */
export interface StoreDriver<C> {
  /** The store's name, as `OffsetStore.name`. */
  readonly store: string;
  /** Where the store points, for messages: host:port, a path, a URL. Never a credential. */
  readonly address: string;
  /**
   * Opens the connection. On failure it rejects and leaves nothing open (the store stays
   * unconnected, and `connect` may be called again).
   */
  acquire(binding: OffsetStoreBinding | undefined): Promise<C>;
  /** Releases what `acquire` opened. Called once per successful `acquire`. */
  release(connection: C): Promise<void>;
  /**
   * A driver failure during `what`, as a `DStreamError` with `retriable` set (an
   * `OffsetStoreError`, or an `AuthenticationError` for a refusal). Default: a retriable
   * `OffsetStoreError` with the driver's message. Called only for errors that are not already
   * `OffsetStoreError`, `AuthenticationError` or `ConfigError`.
   */
  wrap?(what: string, error: unknown): DStreamError;
}

type Lifecycle<C> =
  | { readonly kind: 'new' }
  | { readonly kind: 'connecting'; readonly attempt: Promise<C> }
  | { readonly kind: 'open'; readonly connection: C }
  | { readonly kind: 'closed'; readonly released: Promise<void> };

/**
 * The one life cycle of every offset store: `connect` once (concurrent calls share one attempt,
 * a failed attempt leaves the store unconnected and may be repeated), `close` idempotent, and any
 * use before `connect` or after `close` rejected with a non-retriable `OffsetStoreError`. `run`
 * wraps driver failures through the driver's `wrap`, so none escapes as the driver's own error.
 *
 * @example
 * const client = new StoreClient({
 *   store: 'redis',
 *   address: '127.0.0.1:6379',
 *   acquire: async () => connectRedis(),
 *   release: (redis) => redis.quit().then(() => undefined),
 * });
 * await client.connect();
 * const value = await client.run('load offsets', (redis) => redis.hget(key, '0'));
 */
export class StoreClient<C> {
  private lifecycle: Lifecycle<C> = { kind: 'new' };
  /** Operations started through `run` or `use` and not yet settled: `close` waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly driver: StoreDriver<C>) {}

  /** `new`, `connecting`, `open` or `closed`: for a store's redacted view. */
  get state(): Lifecycle<C>['kind'] {
    return this.lifecycle.kind;
  }

  get isOpen(): boolean {
    return this.lifecycle.kind === 'open';
  }

  /** Connects once; a call while connecting waits for the same attempt, a call once open returns at once. */
  async connect(binding?: OffsetStoreBinding): Promise<void> {
    const lifecycle = this.lifecycle;
    if (lifecycle.kind === 'closed') throw this.closedError();
    if (lifecycle.kind === 'open') return;
    if (lifecycle.kind === 'connecting') {
      try {
        await lifecycle.attempt;
      } catch (error) {
        throw this.wrap('connect', error);
      }
      if ((this.lifecycle as Lifecycle<C>).kind === 'closed') throw this.closedError();
      return;
    }
    // Started on the next microtask, so that the driver's acquire already sees `connecting`.
    const attempt = Promise.resolve().then(() => this.driver.acquire(binding));
    this.lifecycle = { kind: 'connecting', attempt };
    let connection: C;
    try {
      connection = await attempt;
    } catch (error) {
      if (this.lifecycle.kind === 'connecting' && this.lifecycle.attempt === attempt) this.lifecycle = { kind: 'new' };
      throw this.wrap('connect', error);
    }
    // Closed while connecting: `close` releases the connection this attempt made.
    if ((this.lifecycle as Lifecycle<C>).kind === 'closed') throw this.closedError();
    this.lifecycle = { kind: 'open', connection };
  }

  /**
   * Releases the connection, after the connect and the `run`/`use` operations in flight have settled
   * (new ones are refused from the call on). Idempotent: every call resolves once the release is
   * done; a release that fails is not reported (nothing can be done with a closed store).
   *
   * Waiting matters for connections the store borrows: a read through a Kafka stream's consumer
   * still running when the consumer disconnects waits out its whole timeout in a libuv thread,
   * and `process.exit` waits for that thread.
   */
  close(): Promise<void> {
    const lifecycle = this.lifecycle;
    if (lifecycle.kind === 'closed') return lifecycle.released;
    const inFlight = [...this.inFlight];
    const released = (async () => {
      await Promise.allSettled(inFlight);
      let connection: C;
      if (lifecycle.kind === 'open') connection = lifecycle.connection;
      else if (lifecycle.kind === 'connecting') {
        try {
          connection = await lifecycle.attempt;
        } catch {
          return;
        }
      } else return;
      await this.driver.release(connection).catch(() => undefined);
    })();
    this.lifecycle = { kind: 'closed', released };
    return released;
  }

  /** The open connection; throws `OffsetStoreError` before `connect` and after `close`. */
  get connection(): C {
    const lifecycle = this.lifecycle;
    if (lifecycle.kind === 'open') return lifecycle.connection;
    if (lifecycle.kind === 'closed') throw this.closedError();
    throw new OffsetStoreError(
      this.driver.store,
      `not connected to ${this.driver.address}${lifecycle.kind === 'connecting' ? ' yet' : ''}; await connect() first`,
    );
  }

  /** Throws `OffsetStoreError` unless the store is connected and not closed (see `connection`). */
  assertOpen(): void {
    void this.connection;
  }

  /** Throws `OffsetStoreError` once the store is closed; for stores with nothing to connect, usable before `connect`. */
  assertNotClosed(): void {
    if (this.lifecycle.kind === 'closed') throw this.closedError();
  }

  /** Runs `operation` on the open connection, its failures wrapped (see `wrap`); `close` waits for it. */
  run<R>(what: string, operation: (connection: C) => Promise<R> | R): Promise<R> {
    return this.use(async (connection) => {
      try {
        return await operation(connection);
      } catch (error) {
        throw this.wrap(what, error);
      }
    });
  }

  /**
   * Runs `operation` on the open connection and lets `close` wait for it, its failures as they
   * are: for operations that run user code (a transaction's work), whose errors pass unwrapped.
   */
  use<R>(operation: (connection: C) => Promise<R> | R): Promise<R> {
    let connection: C;
    try {
      connection = this.connection;
    } catch (error) {
      return Promise.reject(error);
    }
    const running = (async () => operation(connection))();
    this.inFlight.add(running);
    const settled = () => void this.inFlight.delete(running);
    running.then(settled, settled);
    return running;
  }

  /**
   * `error` as the store's error: an `OffsetStoreError` (or `StaleOffsetError`),
   * `AuthenticationError` or `ConfigError` passes through; anything else goes through the
   * driver's `wrap`, by default a retriable `OffsetStoreError` (or one that keeps the `retriable`
   * of a `DStreamError` such as core's `KafkaError`).
   */
  wrap(what: string, error: unknown): DStreamError {
    if (error instanceof OffsetStoreError || error instanceof AuthenticationError || error instanceof ConfigError) return error;
    if (this.driver.wrap !== undefined) return this.driver.wrap(what, error);
    return new OffsetStoreError(this.driver.store, `${what} at ${this.driver.address} failed: ${messageOf(error)}`, {
      retriable: error instanceof DStreamError ? error.retriable : true,
      cause: driverError(error),
    });
  }

  private closedError(): OffsetStoreError {
    return new OffsetStoreError(this.driver.store, `the store for ${this.driver.address} is closed; create a new one`, {
      retriable: false,
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message || error.constructor.name : String(error);
}
