// A raw HTTP/2 client that shows every frame the server sends (RFC 9113 §4), for
// what a Node client would hide: node:http2 answers a server's GOAWAY with one of
// its own, after which the Node server sends another (shared/notes/http2.md), so
// GOAWAYs and PINGs are counted here on a plain socket. Requests are encoded with
// HPACK's static table and literals only (RFC 7541), which every server accepts.
import net from 'node:net';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
  /** ms since the client connected. */
  at: number;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK string literal, not Huffman-coded (lengths below 127). */
function literal(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export class RawH2Client {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  /** Answer the server's PINGs (a client that does not makes the drain wait its second). */
  ackPings: boolean;
  #buffer = Buffer.alloc(0);
  #nextStream = 1;
  #openedAt = Date.now();
  closedAt: number | undefined;

  private constructor(socket: net.Socket, ackPings: boolean) {
    this.socket = socket;
    this.ackPings = ackPings;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => {});
    socket.on('close', () => (this.closedAt ??= Date.now() - this.#openedAt));
    socket.write(PREFACE);
    socket.write(frame(FRAME.SETTINGS, 0, 0));
  }

  static connect(port: number, { ackPings = true } = {}): Promise<RawH2Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => {
        socket.off('error', reject);
        resolve(new RawH2Client(socket, ackPings));
      });
      socket.once('error', reject);
    });
  }

  /** Opens a stream with a GET (or POST without a body) of `path`; returns its id. */
  request(path = '/', method: 'GET' | 'POST' = 'GET'): number {
    const id = this.#nextStream;
    this.#nextStream += 2;
    const block = Buffer.concat([
      Buffer.from([method === 'GET' ? 0x82 : 0x83, 0x86]), // :method, :scheme http (static table)
      path === '/' ? Buffer.from([0x84]) : Buffer.concat([Buffer.from([0x04]), literal(path)]), // :path
      Buffer.from([0x01]),
      literal('127.0.0.1'), // :authority
    ]);
    this.socket.write(frame(FRAME.HEADERS, END_HEADERS | END_STREAM, id, block));
    return id;
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) return;
      const f: Frame = {
        type: this.#buffer[3]!,
        flags: this.#buffer[4]!,
        streamId: this.#buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffer.subarray(9, 9 + length),
        at: Date.now() - this.#openedAt,
      };
      this.#buffer = this.#buffer.subarray(9 + length);
      this.frames.push(f);
      if (f.type === FRAME.SETTINGS && !(f.flags & ACK)) this.socket.write(frame(FRAME.SETTINGS, ACK, 0));
      if (f.type === FRAME.PING && !(f.flags & ACK) && this.ackPings) this.socket.write(frame(FRAME.PING, ACK, 0, f.payload));
    }
  }

  /** The server's GOAWAYs: last-stream-id and error code (0: NO_ERROR). */
  goaways(): Array<{ lastStreamId: number; errorCode: number; at: number }> {
    return this.frames
      .filter((f) => f.type === FRAME.GOAWAY)
      .map((f) => ({ lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, errorCode: f.payload.readUInt32BE(4), at: f.at }));
  }

  /** The server's PINGs (not its ACKs). */
  pings(): Frame[] {
    return this.frames.filter((f) => f.type === FRAME.PING && !(f.flags & ACK));
  }

  /** The stream's response ended (a HEADERS or DATA frame with END_STREAM). */
  completed(streamId: number): boolean {
    return this.frames.some(
      (f) => f.streamId === streamId && (f.type === FRAME.DATA || f.type === FRAME.HEADERS) && (f.flags & END_STREAM) !== 0,
    );
  }

  /** The stream's response began with `:status 200` (index 8 of HPACK's static table). */
  ok(streamId: number): boolean {
    return this.frames.some((f) => f.streamId === streamId && f.type === FRAME.HEADERS && f.payload[0] === 0x88);
  }

  reset(streamId: number): number | undefined {
    const f = this.frames.find((x) => x.streamId === streamId && x.type === FRAME.RST_STREAM);
    return f?.payload.readUInt32BE(0);
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
