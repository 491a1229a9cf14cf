/**
 * An MQTT broker inside this process (aedes) on a free loopback port: for the demo, which must
 * run on a machine without a broker, and for the publish-latency benchmark. Nothing leaves the
 * machine. The daemon itself never starts one: it talks to the home's broker.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface LocalBroker {
  url: string;
  close(): Promise<void>;
}

export async function startLocalBroker(): Promise<LocalBroker> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
