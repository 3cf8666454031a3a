import { createServer, type Socket } from 'node:net';
import { waitFor } from '@carrier/contract';
import { CarrierError, connect } from '@carrier/core';
import { describe, expect, it } from 'vitest';

// connect() to a Kafka address that accepts TCP and never answers must fail within
// connectTimeoutMs, leave no socket open behind it, and open none afterwards.

describe('kafka deadlines', () => {
  it('connect to a silent endpoint rejects within connectTimeoutMs and leaves no socket', {
    timeout: 30_000,
  }, async () => {
    const sockets = new Set<Socket>();
    let accepted = 0;
    const server = createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      socket.resume(); // read (and drop) what the client sends, so that its close is seen
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const started = Date.now();
      let error: unknown;
      try {
        await connect(`kafka://127.0.0.1:${port}`, { connectTimeoutMs: 2_000, onError: () => {} });
      } catch (e) {
        error = e;
      }
      const took = Date.now() - started;
      const acceptedAtRejection = accepted;
      expect(error).toBeInstanceOf(CarrierError);
      expect(['TIMEOUT', 'CONNECTION']).toContain((error as CarrierError).code);
      expect(took).toBeLessThan(4_000);
      // every socket the client opened is closed again shortly after
      await waitFor(() => sockets.size === 0, 5_000, 'no socket left open');
      // … and none is opened afterwards (kafkajs retries the failed connect for seconds)
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(sockets.size).toBe(0);
      expect(accepted, 'connections opened after connect rejected').toBe(acceptedAtRejection);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
