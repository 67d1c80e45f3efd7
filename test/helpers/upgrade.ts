// A hand-made WebSocket handshake and an 'upgrade' listener that accepts it, for
// tests that watch what the policy does to a connection that leaves HTTP.
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { get } from './raw.js';

export const UPGRADE = get(
  '/ws',
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
);

/**
 * An 'upgrade' listener that switches protocols and echoes what it receives;
 * `onUpgrade` gets each request and socket. Returns the sockets it took.
 */
export function acceptUpgrades(server: Server, onUpgrade: (req: IncomingMessage, socket: Socket) => void = () => {}): Socket[] {
  const upgraded: Socket[] = [];
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    upgraded.push(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d) => socket.write(d));
    // Node's HTTP sockets allow half-open connections: answer the client's FIN.
    socket.on('end', () => socket.end());
    onUpgrade(req, socket);
  });
  return upgraded;
}
