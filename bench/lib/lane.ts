// A keep-alive load client cheap enough to saturate a Node server from one core.
import net from 'node:net';

/** The request every lane sends; `connection`: a `Connection` header as well (most clients send `keep-alive`). */
function request(connection: string | undefined): Buffer {
  const field = connection === undefined ? '' : `Connection: ${connection}\r\n`;
  return Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${field}\r\n`);
}

/**
 * One keep-alive connection that sends a request whenever the last response is
 * complete and `running()` says so. Every response of a server has the same
 * length (same body, same headers, a fixed-width Date), learnt from the first
 * one: after that the client only counts bytes, so it stays far cheaper per
 * request than the server it loads.
 */
export class Lane {
  #length = 0;
  #pending = Buffer.alloc(0);
  #received = 0;
  #onIdle: (() => void) | undefined;
  #running: () => boolean = () => false;
  readonly #request: Buffer;

  constructor(
    readonly socket: net.Socket,
    connection?: string,
  ) {
    this.#request = request(connection);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
  }

  static async open(port: number, connection?: string): Promise<Lane> {
    const lane = await new Promise<Lane>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new Lane(socket, connection)));
      socket.once('error', reject);
    });
    await lane.drive(once());
    return lane;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Sends until `running()` turns false; resolves when nothing is in flight. */
  drive(running: () => boolean): Promise<void> {
    this.#running = running;
    return new Promise((resolve) => {
      this.#onIdle = resolve;
      this.#send();
    });
  }

  #send(): void {
    if (this.#running()) this.socket.write(this.#request);
    else this.#onIdle?.();
  }

  #data(chunk: Buffer): void {
    if (this.#length === 0) {
      // The first response: parse its length once.
      this.#pending = Buffer.concat([this.#pending, chunk]);
      const text = this.#pending.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /content-length: *(\d+)/i.exec(text.slice(0, end));
      if (length === null) throw new Error(`no Content-Length in ${text.slice(0, end)}`);
      const total = end + 4 + Number(length[1]);
      if (this.#pending.length < total) return;
      this.#length = total;
      this.#received = this.#pending.length;
    } else {
      this.#received += chunk.length;
    }
    while (this.#received >= this.#length) {
      this.#received -= this.#length;
      this.#send();
    }
  }
}

/** `running()` that says yes once. */
export function once(): () => boolean {
  let first = true;
  return () => {
    const answer = first;
    first = false;
    return answer;
  };
}

/** Keeps every lane busy until `ms` have passed; resolves with the responses received. */
export async function load(lanes: ReadonlyArray<Pick<Lane, 'drive'>>, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let responses = 0;
  await Promise.all(
    lanes.map((lane) =>
      lane.drive(() => {
        responses++;
        return performance.now() < until;
      }),
    ),
  );
  return responses - lanes.length;
}
