// The sockets of bench/inbox-fanout.ts, in a process of their own so the server's event loop only
// emits. Opens SOCKETS websockets with COOKIE, then reports to the parent (IPC), per event, the
// epoch time (ms, sub-ms precision) each socket received it.
import { io as connect, type Socket } from 'socket.io-client';

const url = process.env.URL ?? '';
const count = Number(process.env.SOCKETS);
const headers = { cookie: process.env.COOKIE ?? '', origin: process.env.ORIGIN ?? '' };
const now = () => performance.timeOrigin + performance.now();
const send = (message: unknown) => process.send?.(message);

const sockets: Socket[] = [];
for (let i = 0; i < count; i += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, count - i) }, () => {
      const socket = connect(url, { transports: ['websocket'], extraHeaders: headers, reconnection: false, forceNew: true });
      sockets.push(socket);
      return new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
    }),
  );
}

let arrivals: number[] = [];
for (const socket of sockets) {
  for (const event of ['test:ping', 'message:new']) {
    socket.on(event, () => {
      arrivals.push(now());
      if (arrivals.length === sockets.length) {
        send({ arrivals });
        arrivals = [];
      }
    });
  }
}
process.on('message', (m) => {
  if (m === 'close') {
    for (const socket of sockets) socket.close();
    process.exit(0);
  }
});
send({ ready: sockets.length });
