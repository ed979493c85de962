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

  /** An outage: the port stops listening (connection refused), open connections are cut; state is kept for `up()`. */
  async down() {
    await this.stop();
  }

  /** Back on the same port after `down()`. */
  async up() {
    const port = Number(new URL(this.url).port);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }
}
