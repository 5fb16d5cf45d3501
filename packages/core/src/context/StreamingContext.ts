import { constants as osConstants } from 'node:os';
import type { Observable } from 'rxjs';
import { ConfigError, IllegalStateError } from '../errors';
import type { DStream } from '../dstream/DStream';
import { batchLogListener } from '../scheduler/batchLogListener';
import type { InputEvent, StreamingEvent, StreamingListener } from '../scheduler/events';
import { JobGenerator } from '../scheduler/JobGenerator';
import { JobScheduler } from '../scheduler/JobScheduler';
import { ListenerBus } from '../scheduler/ListenerBus';
import type { StatefulOperator } from '../state/StatefulOperator';
import { stateRegistryOf } from '../state/StateRegistry';
import { type Clock, SystemClock } from '../util/Clock';
import type { StreamingMetrics } from '../metrics/StreamingMetrics';
import type { Logger } from '../util/Logger';
import { type LoggingOptions, pinoLogger } from '../util/pinoLogger';
import { toError } from '../util/toError';
import { type MetricsOptions, Monitoring, type UiOptions } from './Monitoring';
import { type ObservableStreamOptions, fromObservable } from './fromObservable';
import { checkGraph, checkTimeout } from './checkGraph';
import { planStreaming } from './planStreaming';
import type { InputSource, OutputOperation, StreamingContextLike } from './types';
import { supervisorReporter } from '../workers/workerReport';

/** Options of `new StreamingContext(…)`. */
export interface StreamingContextOptions {
  /** Names the job in logs and events. */
  readonly appName: string;
  /** Time between batches, a positive integer number of ms (Spark's batchDuration). */
  readonly batchIntervalMs: number;
  /** Source of time; `SystemClock` by default, `ManualClock` in tests. */
  readonly clock?: Clock;
  /** Stop gracefully on SIGTERM/SIGINT, then exit (default true). */
  readonly stopOnSignals?: boolean;
  /** Bound on a graceful stop's wait for queued batches (default 10 batch intervals, as Spark). */
  readonly stopTimeoutMs?: number;
  /**
   * Where lifecycle, batch and input messages go. Default: pino, JSON lines with field `app`
   * (readable lines on a terminal); see `logging`.
   */
  readonly logger?: Logger;
  /** Format, level and destination of the default logger; not with `logger`. */
  readonly logging?: LoggingOptions;
  /** Prometheus metrics: `{ port }` serves `/metrics`; `{ registry }` fills yours. Default: none. */
  readonly metrics?: MetricsOptions;
  /** The live batch timeline page, like Spark's Streaming tab: `{ port }`. Default: none. */
  readonly ui?: UiOptions;
}

/** Options of `StreamingContext.stop`. */
export interface StopOptions {
  /** Let the running and the queued batches finish and commit (default true). */
  readonly graceful?: boolean;
  /** For a graceful stop, how long queued batches may take before they are abandoned. */
  readonly timeoutMs?: number;
}

/** Lifecycle of a StreamingContext: initialized → active → stopped, never back. */
export type StreamingContextState = 'initialized' | 'active' | 'stopped';

type Phase = 'initialized' | 'starting' | 'active' | 'stopping' | 'stopped';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * The entry point of a streaming job, as Spark's StreamingContext: it holds the graph of inputs
 * and outputs, starts the inputs, ticks every `batchIntervalMs` and runs one batch at a time
 * until stopped. States are initialized → active → stopped; the graph can change only while
 * initialized. A failed batch stops the context and `awaitTermination()` rejects with its error.
 *
 * @example
 * const ssc = new StreamingContext({ appName: 'word-count', batchIntervalMs: 1000 });
 * const lines = createDirectStream(ssc, { … });
 * lines.map(…).foreachBatch(async (records, batch) => { … });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export class StreamingContext implements StreamingContextLike {
  readonly appName: string;
  readonly batchIntervalMs: number;
  readonly clock: Clock;
  private readonly stopOnSignals: boolean;
  private readonly stopTimeoutMs: number;
  /** Where the context, and its inputs unless given their own, log. */
  readonly logger: Logger;
  private readonly bus: ListenerBus;
  private readonly monitoring: Monitoring;
  private readonly inputs: InputSource[] = [];
  private readonly outputs: OutputOperation[] = [];
  private readonly startedInputs: InputSource[] = [];
  private phase: Phase = 'initialized';
  private zeroTime: number | undefined;
  private generator: JobGenerator | undefined;
  private scheduler: JobScheduler | undefined;
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private terminationError: Error | undefined;
  private readonly terminated: Promise<void>;
  private resolveTerminated!: () => void;
  private receivedSignal: StopSignal | undefined;
  /** Aborted by a stop while the inputs start. */
  private readonly startAbort = new AbortController();

  constructor(options: StreamingContextOptions) {
    const { appName, batchIntervalMs, clock, stopOnSignals = true } = options;
    if (typeof appName !== 'string' || appName.trim().length === 0) {
      throw new ConfigError('appName', appName, 'must be a non-empty string', 'Name the job, e.g. appName: "word-count".');
    }
    if (!Number.isSafeInteger(batchIntervalMs) || batchIntervalMs <= 0) {
      throw new ConfigError(
        'batchIntervalMs',
        batchIntervalMs,
        'must be a positive integer number of milliseconds',
        'Pass the time between batches, e.g. batchIntervalMs: 1000.',
      );
    }
    const stopTimeoutMs = options.stopTimeoutMs ?? 10 * batchIntervalMs;
    checkTimeout('stopTimeoutMs', stopTimeoutMs);
    if (typeof stopOnSignals !== 'boolean') {
      throw new ConfigError('stopOnSignals', stopOnSignals, 'must be a boolean', 'Pass true (default) or false.');
    }
    this.appName = appName;
    this.batchIntervalMs = batchIntervalMs;
    this.clock = clock ?? new SystemClock();
    if (options.logger !== undefined && options.logging !== undefined) {
      throw new ConfigError('logging', options.logging, 'applies only to the default logger, and logger is set', 'Pass one of logger and logging.');
    }
    const logger = options.logger ?? pinoLogger(appName, options.logging);
    this.stopOnSignals = stopOnSignals;
    this.stopTimeoutMs = stopTimeoutMs;
    this.logger = logger;
    this.bus = new ListenerBus(logger);
    this.bus.add(batchLogListener(logger));
    this.monitoring = new Monitoring(this.bus, options.metrics, options.ui);
    // Under runWorkers, completed batches are reported to the supervisor for its progress line.
    const reporter = supervisorReporter();
    if (reporter !== undefined) this.bus.add(reporter);
    this.terminated = new Promise((resolve) => {
      this.resolveTerminated = resolve;
    });
    // From construction on, not from start(): a signal while the job is still being set up or
    // while start() connects and waits for partitions must stop it cleanly too.
    if (this.stopOnSignals) for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal);
  }

  /** `initialized` until `start()`, `active` while running (and stopping), then `stopped`. */
  get state(): StreamingContextState {
    switch (this.phase) {
      case 'initialized':
        return 'initialized';
      case 'starting':
      case 'active':
      case 'stopping':
        return 'active';
      case 'stopped':
        return 'stopped';
    }
  }

  /** The time of the first batch minus one interval. Throws `IllegalStateError` before `start()`. */
  get zeroTimeMs(): number {
    if (this.zeroTime === undefined) {
      throw new IllegalStateError('zeroTimeMs is fixed when the StreamingContext starts; call start() first');
    }
    return this.zeroTime;
  }

  /** Every event of this context: lifecycle and, per batch, Submitted → Started → Completed. Completes once stopped. */
  get events$(): Observable<StreamingEvent> {
    return this.bus.events$;
  }

  /**
   * The stateful operators of this context's graph (updateStateByKey, mapWithState, windowed
   * reductions), by stable name: where a batch's state changes are read and state is restored.
   */
  get stateOperators(): readonly StatefulOperator[] {
    return stateRegistryOf(this).operators;
  }

  /** The metrics of option `metrics` (their `registry` can be served by your own server); else undefined. */
  get metrics(): StreamingMetrics | undefined {
    return this.monitoring.metrics;
  }

  /** Address of the `/metrics` endpoint once started with `metrics: { port }`; else undefined. */
  get metricsUrl(): string | undefined {
    return this.monitoring.metricsUrl;
  }

  /** Address of the batch timeline page once started with `ui: { port }`; else undefined. */
  get uiUrl(): string | undefined {
    return this.monitoring.uiUrl;
  }

  /** Delivers an input's event (planned ranges, commits) to listeners, metrics and UI. */
  postInputEvent(event: InputEvent): void {
    this.bus.post(event);
  }

  /** Adds a listener for this context's events (Spark's addStreamingListener). */
  addStreamingListener(listener: StreamingListener): void {
    this.bus.add(listener);
  }

  /** Removes a listener added with `addStreamingListener`. */
  removeStreamingListener(listener: StreamingListener): void {
    this.bus.remove(listener);
  }

  /** Throws `IllegalStateError` naming `operation` unless the context is still initialized. */
  assertCanAddOperation(operation: string): void {
    if (this.phase === 'initialized') return;
    const when = this.phase === 'stopped' ? 'stopped' : 'started';
    throw new IllegalStateError(
      `cannot add ${operation}: the StreamingContext has ${when}. Build the whole graph (inputs, operators, outputs) before start()`,
    );
  }

  /**
   * A stream fed by `source`: each batch holds what it emitted since the previous tick. Subscribed
   * at `start()`, unsubscribed at `stop()`; completion ends the input, an error stops the context.
   * The same as `fromObservable(this, source, options)`, where the details are.
   *
   * @example
   * const clicks = ssc.observableStream(fromEvent<Click>(emitter, 'click'));
   * clicks.count().print();
   */
  observableStream<T>(source: Observable<T>, options?: ObservableStreamOptions): DStream<T> {
    return fromObservable(this, source, options);
  }

  /** Adds an input source: started by `start()`, asked to generate every batch, stopped by `stop()`. */
  registerInput(input: InputSource): void {
    this.assertCanAddOperation(`input ${input.name}`);
    if (this.inputs.includes(input)) {
      throw new IllegalStateError(`input ${input.name} is already registered with this StreamingContext`);
    }
    this.inputs.push(input);
  }

  /** Adds an output operation; outputs run once per batch, in registration order. */
  registerOutput(output: OutputOperation): void {
    this.assertCanAddOperation(`output ${output.name}`);
    if (output.stream.context !== this) {
      throw new ConfigError(
        `${output.name} stream`,
        output.stream.node.name,
        'must belong to the StreamingContext the output is registered with',
        'Build the stream from an input of this context.',
      );
    }
    this.outputs.push(output);
  }

  /**
   * Starts every input (in registration order), fixes the zero time and starts ticking. The first
   * batch is the next multiple of `batchIntervalMs` on the clock. Rejects, with the already
   * started inputs stopped again, if an input fails to start. Calling it on an active context
   * returns the same promise; a stopped context cannot be restarted.
   */
  start(): Promise<void> {
    // A signal stopped the job before it started: starting now would only undo that stop.
    if (this.phase === 'stopped' && this.receivedSignal !== undefined) return Promise.resolve();
    if (this.phase === 'stopped') {
      return Promise.reject(
        new IllegalStateError('the StreamingContext has stopped and cannot be restarted; create a new one'),
      );
    }
    if (this.startPromise !== undefined) return this.startPromise;
    if (this.outputs.length === 0) {
      return Promise.reject(
        new IllegalStateError(
          'no output operations registered, so nothing to execute. Add one (foreachBatch, print, saveAsTextFiles) before start()',
        ),
      );
    }
    try {
      for (const output of this.outputs) checkGraph(this, output.stream);
      planStreaming(this.outputs.map((output) => output.stream));
    } catch (error) {
      return Promise.reject(error);
    }
    this.phase = 'starting';
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  /**
   * Stops the context; idempotent (every call returns the first call's promise). Ticking stops at
   * once. Graceful (default): the running batch and those already queued finish and commit, up to
   * `timeoutMs` (default `stopTimeoutMs`), after which queued batches are abandoned uncommitted.
   * Not graceful: queued batches are abandoned and only the running one finishes. Then every input
   * is stopped. Resolves when stopped; an error that stopped the context is what
   * `awaitTermination()` rejects with. Do not await it inside an output: it waits for that batch.
   */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.stopPromise !== undefined) return this.stopPromise;
    const { graceful = true, timeoutMs = this.stopTimeoutMs } = options;
    try {
      checkTimeout('timeoutMs', timeoutMs);
      if (typeof graceful !== 'boolean') {
        throw new ConfigError('graceful', graceful, 'must be a boolean', 'Pass true to finish queued batches, false to abandon them.');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    this.stopPromise = this.doStop(graceful, timeoutMs);
    return this.stopPromise;
  }

  /** Resolves when the context stops; rejects with the error that stopped it, if one did. */
  async awaitTermination(): Promise<void> {
    await this.terminated;
    if (this.terminationError !== undefined) throw this.terminationError;
  }

  /**
   * Waits at most `timeoutMs` on the context's clock: true if it stopped, false on timeout.
   * Rejects with the error that stopped it, if one did.
   */
  async awaitTerminationOrTimeout(timeoutMs: number): Promise<boolean> {
    checkTimeout('timeoutMs', timeoutMs);
    const timer = new AbortController();
    const hasTerminated = await Promise.race([
      this.terminated.then(() => true),
      this.clock.waitUntil(this.clock.nowMs() + timeoutMs, timer.signal).then(
        () => false,
        () => true,
      ),
    ]);
    timer.abort();
    if (hasTerminated && this.terminationError !== undefined) throw this.terminationError;
    return hasTerminated;
  }

  private async doStart(): Promise<void> {
    const aborted = this.startAbort.signal;
    try {
      // Ports first: a port in use fails the start before any broker or store connection.
      await this.monitoring.start();
      for (const input of this.inputs) {
        aborted.throwIfAborted();
        // An input whose start fails or is aborted releases what it took itself.
        await input.start(aborted);
        this.startedInputs.push(input);
      }
      aborted.throwIfAborted();
    } catch (error) {
      if (aborted.aborted) {
        // Stopped while starting: nothing ran, nothing was committed; start() resolves and the
        // context ends as a stopped one does.
        this.logger.info(`${this.appName}: stopped while starting; nothing was consumed`);
        await this.stopInputs();
        await this.monitoring.close();
        this.phase = 'stopped';
        this.finishStopped(true, []);
        return;
      }
      const failure = toError(error);
      this.logger.error(`${this.appName}: an input failed to start; stopping the inputs already started`, {
        error: failure,
      });
      await this.stopInputs();
      await this.monitoring.close();
      this.terminationError = failure;
      this.phase = 'stopped';
      this.bus.post({ type: 'StreamingError', timeMs: this.clock.nowMs(), error: failure });
      this.finishStopped(false, []);
      throw failure;
    }
    const nowMs = this.clock.nowMs();
    const firstBatchTimeMs = (Math.floor(nowMs / this.batchIntervalMs) + 1) * this.batchIntervalMs;
    this.zeroTime = firstBatchTimeMs - this.batchIntervalMs;
    const scheduler = new JobScheduler({
      clock: this.clock,
      inputs: this.inputs,
      outputs: this.outputs,
      bus: this.bus,
      logger: this.logger,
      onFailure: (error) => this.fail(error),
      notRecomputable: () => {
        const names = stateRegistryOf(this).operators.map((operator) => `${operator.kind} "${operator.name}"`);
        return names.length === 0
          ? undefined
          : `the job keeps state (${names.join(', ')}), which a batch updates as it is computed, so the batch cannot run again ` +
              'in this process; the job stops and a restart reads the record again';
      },
    });
    const generator = new JobGenerator({
      clock: this.clock,
      batchIntervalMs: this.batchIntervalMs,
      inputs: this.inputs,
      submit: (timeMs) => scheduler.submit(timeMs),
      onError: (error) => this.fail(error),
    });
    this.scheduler = scheduler;
    this.generator = generator;
    this.phase = 'active';
    this.bus.post({
      type: 'StreamingStarted',
      appName: this.appName,
      timeMs: nowMs,
      batchIntervalMs: this.batchIntervalMs,
      zeroTimeMs: this.zeroTime,
    });
    this.logger.info(`${this.appName}: started, batch interval ${this.batchIntervalMs} ms, first batch at ${firstBatchTimeMs}`);
    generator.start(firstBatchTimeMs);
  }

  /** Records the first error, reports it and stops without running queued batches. */
  private fail(error: Error): void {
    this.terminationError ??= error;
    this.scheduler?.abandonQueued();
    this.logger.error(`${this.appName}: stopping after an error`, { error });
    this.bus.post({ type: 'StreamingError', timeMs: this.clock.nowMs(), error });
    void this.stop({ graceful: false });
  }

  private async doStop(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.phase === 'initialized') {
      this.phase = 'stopped';
      this.finishStopped(graceful, []);
      return;
    }
    if (this.phase === 'starting') {
      this.startAbort.abort(new IllegalStateError('the StreamingContext was stopped while starting'));
      await this.startPromise?.catch(() => undefined);
    }
    if (this.phase === 'stopped') return;
    this.phase = 'stopping';
    this.logger.info(`${this.appName}: stopping${graceful ? ' gracefully' : ''}`);
    await this.generator?.stop();
    const abandoned = (await this.scheduler?.stop(graceful && this.terminationError === undefined, timeoutMs)) ?? [];
    if (abandoned.length > 0) {
      this.logger.warn(`${this.appName}: abandoned ${abandoned.length} generated batches; their offsets were not committed`, {
        batchTimesMs: abandoned,
      });
    }
    await this.stopInputs();
    await this.monitoring.close();
    this.phase = 'stopped';
    this.finishStopped(graceful, abandoned);
  }

  /** Stops every started input, in registration order; a failing stop is logged and reported. */
  private async stopInputs(): Promise<void> {
    for (const input of this.startedInputs.splice(0)) {
      try {
        await input.stop();
      } catch (error) {
        const failure = toError(error);
        this.logger.error(`${this.appName}: input ${input.name} failed to stop`, { error: failure });
        this.terminationError ??= failure;
      }
    }
  }

  private finishStopped(graceful: boolean, abandoned: readonly number[]): void {
    if (this.stopOnSignals) for (const signal of STOP_SIGNALS) process.off(signal, this.onSignal);
    this.bus.post({
      type: 'StreamingStopped',
      timeMs: this.clock.nowMs(),
      graceful,
      abandonedBatchTimesMs: abandoned,
      error: this.terminationError,
    });
    this.bus.close();
    this.logger.info(`${this.appName}: stopped`);
    this.resolveTerminated();
  }

  /**
   * SIGTERM/SIGINT: stop gracefully, then exit (0, or 1 if the context stopped with an error) once
   * the continuations of `awaitTermination()` have run. A second signal during the stop exits at
   * once with 128 + the signal's number, as a shell reports a process killed by it.
   */
  private readonly onSignal = (signal: StopSignal): void => {
    if (this.receivedSignal !== undefined) {
      this.logger.error(`${this.appName}: ${signal} received again while stopping; exiting without waiting`);
      process.exit(128 + osConstants.signals[signal]);
      return;
    }
    this.receivedSignal = signal;
    this.logger.info(`${this.appName}: ${signal} received; stopping gracefully (send it again to exit at once)`);
    void this.stop({ graceful: true }).then(() => {
      const exitCode = this.terminationError === undefined ? 0 : 1;
      process.exitCode = exitCode;
      // Default handling of the signal would have ended the process; with a handler installed we
      // end it ourselves, or open sockets and timers of user code would keep it alive.
      setImmediate(() => process.exit(exitCode));
    });
  };
}
