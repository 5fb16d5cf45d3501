import { ConsumerStrategies, KafkaUtils, StateSpec, StreamingContext, type State } from '@dstream/core';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';

/** Where the job reads and writes, and when a session ends. */
export interface SessionsSettings {
  readonly brokers: string;
  readonly connectionString: string;
  readonly topic: string;
  readonly group: string;
  /** A session ends after this long without a click from its user. */
  readonly idleMs: number;
}

/** The results table: one row per ended session. */
export const CREATE_SESSIONS = `CREATE TABLE IF NOT EXISTS user_sessions (
  user_id text NOT NULL,
  first_click timestamptz NOT NULL,
  last_click timestamptz NOT NULL,
  clicks int NOT NULL
)`;

/** An open session: the state `mapWithState` keeps per user (stored as JSON with the offsets). */
export interface OpenSession {
  readonly firstClickMs: number;
  readonly lastClickMs: number;
  readonly clicks: number;
}

/** A session that ended: what the job writes. */
export interface EndedSession extends OpenSession {
  readonly user: string;
}

/**
 * Sessionizes clicks (records keyed by user, valued by page): each user's clicks belong to one
 * open session until the user is idle for `idleMs`, when `mapWithState`'s timeout ends it and the
 * job inserts it into `user_sessions`. The insert runs on the offset store's transaction, which
 * also commits the batch's offsets and the changes to the open sessions (table `dstream_state`,
 * operator `sessions`), so after a crash or a restart PostgreSQL holds all three as of one batch:
 * every click lands in exactly one ended session, and sessions open at a stop continue after it.
 *
 * @example
 * const ssc = sessionsJob({ brokers: '127.0.0.1:9092', connectionString: 'postgres://postgres@127.0.0.1/app',
 *   topic: 'clicks', group: 'sessions', idleMs: 30 * 60_000 });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function sessionsJob(settings: SessionsSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'user-sessions', batchIntervalMs: 500 });

  const clicks = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new PostgresOffsetStore({ connectionString: settings.connectionString }),
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    keyDeserializer: 'string',
    valueDeserializer: 'string',
  });

  const sessions = StateSpec.function((user: string, clickMs: number | undefined, state: State<OpenSession>): EndedSession | undefined => {
    // Called once, without a click, when the user has been idle for idleMs: the session ends.
    if (state.isTimingOut()) return { user, ...state.get() };
    const open = state.getOption();
    state.update({
      firstClickMs: open?.firstClickMs ?? clickMs!,
      lastClickMs: clickMs!,
      clicks: (open?.clicks ?? 0) + 1,
    });
    return undefined;
  })
    .timeout(settings.idleMs)
    // A stable name: the state stays readable when operators are added before this one.
    .name('sessions');

  clicks
    .map((click) => [click.key, click.timestamp] as const)
    .mapWithState(sessions)
    // mapWithState leaves undefined results out already; this narrows the records' type to match.
    .filter((session): session is EndedSession => session !== undefined)
    .foreachBatch(async (ended, { transaction }) => {
      if (ended.length === 0) return;
      await transaction.query(
        `INSERT INTO user_sessions (user_id, first_click, last_click, clicks)
         SELECT u, to_timestamp(f / 1000.0), to_timestamp(l / 1000.0), c
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[]) AS s(u, f, l, c)`,
        [ended.map((s) => s.user), ended.map((s) => s.firstClickMs), ended.map((s) => s.lastClickMs), ended.map((s) => s.clicks)],
      );
    });

  return ssc;
}
