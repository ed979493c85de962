import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fake of an external HTTP API on 127.0.0.1: started on a free port, stopped with its connections. */
export abstract class LocalHttpFake {
  url = '';
  protected abstract readonly server: Server;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
