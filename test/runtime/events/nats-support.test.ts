/** The test helper that runs real nats-server processes works as the other tests rely on. */
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { freePorts } from "../../support/ports.js";
import { startNatsCluster, startNatsWithConfig } from "../../support/nats.js";

describe("test/support/nats", () => {
  it("runs a given config file and waits for /healthz on its monitor port", async () => {
    const [port, monitorPort] = await freePorts(2);
    const nats = await startNatsWithConfig(
      `listen: "127.0.0.1:${port}"\nhttp: "127.0.0.1:${monitorPort}"\njetstream { store_dir: "{{TMP}}/js" }\n`,
      { port, monitorPort },
    );
    try {
      const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: "PROBE", subjects: ["probe.>"] });
      expect((await nc.jetstream().publish("probe.one", "x")).seq).toBe(1);
      await nc.close();
    } finally {
      await nats.stop();
    }
    expect(nats.process.running()).toBe(false);
  });

  it("stops, kills and restarts a cluster node on the same port with its store", async () => {
    const cluster = await startNatsCluster(3);
    try {
      const nc = await connect({ servers: cluster.urls });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"], num_replicas: 3 });
      await nc.jetstream().publish("keep.a", "kept");
      const node = cluster.nodes[1]!;
      await node.kill();
      expect(node.running()).toBe(false);
      await node.restart();
      expect(node.running()).toBe(true);
      const direct = await connect({ servers: node.url });
      expect((await (await direct.jetstreamManager()).streams.info("KEEP")).state.messages).toBe(1);
      await direct.close();
      await nc.close();
    } finally {
      await cluster.stop();
    }
  }, 90_000);
});
