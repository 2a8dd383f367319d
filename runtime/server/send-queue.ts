/**
 * zeromq.js allows one send in progress per socket. Replies finish in any order, so they queue here
 * and go out one after another. The queue is bounded: beyond the limit a message is dropped
 * (as ZeroMQ itself does at the high-water mark on ROUTER and PUB sockets).
 */
export interface Sendable {
  send(message: Array<Uint8Array | string>): Promise<void>;
  readonly closed: boolean;
}

export class SendQueue {
  private items: Array<Array<Uint8Array | string>> = [];
  private head = 0;
  private sending = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly socket: Sendable,
    private readonly limit: number,
    private readonly onDrop: () => void,
    private readonly onError: (error: Error) => void,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(message: Array<Uint8Array | string>): void {
    if (this.socket.closed) return;
    if (this.length >= this.limit) {
      this.onDrop();
      return;
    }
    this.items.push(message);
    if (!this.sending) void this.flush();
  }

  /** Resolves when everything queued so far has been handed to ZeroMQ. */
  drained(): Promise<void> {
    if (!this.sending && this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async flush(): Promise<void> {
    this.sending = true;
    while (this.head < this.items.length) {
      const message = this.items[this.head]!;
      this.items[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      try {
        await this.socket.send(message);
      } catch (error) {
        if (this.socket.closed) break;
        this.onError(error as Error);
      }
    }
    this.items = [];
    this.head = 0;
    this.sending = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
