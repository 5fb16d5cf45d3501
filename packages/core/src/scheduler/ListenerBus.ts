import { Observable, Subject } from 'rxjs';
import type { Logger } from '../util/Logger';
import type { StreamingEvent, StreamingListener } from './events';

type ListenerMethod = (event: StreamingEvent) => void | Promise<void>;

/** Which listener method receives each event type. */
const METHOD_BY_TYPE = {
  StreamingStarted: 'onStreamingStarted',
  BatchSubmitted: 'onBatchSubmitted',
  BatchStarted: 'onBatchStarted',
  BatchCompleted: 'onBatchCompleted',
  StreamingError: 'onError',
  StreamingStopped: 'onStreamingStopped',
  InputPlanned: 'onInputPlanned',
  OffsetCommitCompleted: 'onOffsetCommitCompleted',
} as const satisfies Record<StreamingEvent['type'], keyof StreamingListener>;

/**
 * Delivers a context's events to its listeners and to `events$`. A listener that fails is logged
 * and skipped: observability must never change what a batch does.
 */
export class ListenerBus {
  private readonly listeners: StreamingListener[] = [];
  private readonly subject = new Subject<StreamingEvent>();
  readonly events$: Observable<StreamingEvent> = this.subject.asObservable();

  constructor(private readonly logger: Logger) {}

  add(listener: StreamingListener): void {
    this.listeners.push(listener);
  }

  remove(listener: StreamingListener): void {
    const index = this.listeners.indexOf(listener);
    if (index >= 0) this.listeners.splice(index, 1);
  }

  post(event: StreamingEvent): void {
    const methodName = METHOD_BY_TYPE[event.type];
    for (const listener of this.listeners) {
      const method = listener[methodName] as ListenerMethod | undefined;
      if (method === undefined) continue;
      try {
        const result = method.call(listener, event);
        if (result instanceof Promise) result.catch((error: unknown) => this.reportFailure(methodName, error));
      } catch (error) {
        this.reportFailure(methodName, error);
      }
    }
    this.subject.next(event);
  }

  /** Completes `events$`; called once, after StreamingStopped. */
  close(): void {
    this.subject.complete();
  }

  private reportFailure(methodName: string, error: unknown): void {
    this.logger.error(`streaming listener ${methodName} threw; the batch is not affected`, { error });
  }
}
