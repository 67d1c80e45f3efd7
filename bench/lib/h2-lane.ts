// The HTTP/2 counterpart of lane.ts for bench/interleaved.ts: one h2c session
// (prior knowledge) that sends `streams` requests at once per turn, each a fresh
// stream, and counts the responses.
import http2 from 'node:http2';
import { once } from './lane.js';

const HEADERS = { ':method': 'GET', ':path': '/' };

export class H2Lane {
  #running: () => boolean = () => false;
  #onIdle: (() => void) | undefined;
  #inFlight = 0;

  private constructor(
    readonly session: http2.ClientHttp2Session,
    readonly streams: number,
  ) {}

  static async open(port: number, streams = 1): Promise<H2Lane> {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    session.setMaxListeners(0);
    const lane = new H2Lane(session, streams);
    await lane.drive(once());
    return lane;
  }

  /** Sends a turn of `streams` requests while `running()` says so; resolves when none is in flight. */
  drive(running: () => boolean): Promise<void> {
    this.#running = running;
    return new Promise((resolve) => {
      this.#onIdle = resolve;
      this.#turn();
    });
  }

  close(): void {
    this.session.destroy();
  }

  #turn(): void {
    if (!this.#running()) {
      this.#onIdle?.();
      return;
    }
    this.#inFlight = this.streams;
    for (let i = 0; i < this.streams; i++) {
      const stream = this.session.request(HEADERS);
      stream.on('error', (error) => {
        throw error;
      });
      // Read the body to its end; a turn ends when its last stream has.
      stream.resume();
      stream.once('end', () => {
        if (--this.#inFlight === 0) this.#turn();
      });
    }
  }
}
