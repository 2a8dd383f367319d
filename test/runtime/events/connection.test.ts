import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { nkeys } from "nats";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, type ZeroplaneConfig } from "../../../runtime/config/index.js";
import { startEvents, type EventsService } from "../../../runtime/events/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { makeTestCa } from "../../support/tls.js";
import {
  cleanup,
  eventsConfig,
  lifecycleEvent,
  newRegistry,
  refusingHandler,
  tempDir,
  waitForNats,
} from "./helpers.js";

/** A logger that keeps every line, at trace level, to check what is (not) logged. */
function capturingLogger(): { logger: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString("utf8"));
      callback();
    },
  });
  return { logger: pino({ level: "trace" }, destination), text: () => lines.join("") };
}

describe("connecting to NATS with mounted credentials", () => {
  let nats: NatsCluster | undefined;
  let dir: string;
  const services: EventsService[] = [];

  afterEach(async () => {
    for (const service of services.splice(0)) await service.close(1000);
    await nats?.stop();
    nats = undefined;
    cleanup(dir);
  });

  async function publishOne(config: ZeroplaneConfig, logger: pino.Logger): Promise<EventsService> {
    const service = await startEvents({ config, logger, registry: newRegistry(), handler: refusingHandler });
    services.push(service);
    service.publish(lifecycleEvent(config.server.id, "agent-1", 1, "spawned"));
    return service;
  }

  it("authenticates with a token file", async () => {
    dir = tempDir();
    nats = await startNats({ extraConfig: 'authorization { token: "s3cr3t-token-value" }' });
    writeFileSync(join(dir, "token"), "s3cr3t-token-value\n");
    const { logger, text } = capturingLogger();
    const service = await publishOne(eventsConfig(nats.urls, dir, { tokenFile: join(dir, "token") }), logger);
    expect(await service.whenDrained(20_000)).toBe(true);
    expect(text()).toContain('"auth":"token"');
    expect(text()).not.toContain("s3cr3t-token-value");
  });

  it("authenticates with user and password files, and never logs the password when it is wrong", async () => {
    dir = tempDir();
    nats = await startNats({
      extraConfig: 'authorization { user: "zp", password: "correct-horse-battery" }',
    });
    writeFileSync(join(dir, "user"), "zp\n");
    writeFileSync(join(dir, "password"), "correct-horse-battery\n");
    writeFileSync(join(dir, "wrong"), "wrong-password-value\n");
    const good = await publishOne(
      eventsConfig(nats.urls, dir, { userFile: join(dir, "user"), passwordFile: join(dir, "password") }),
      pino({ level: "silent" }),
    );
    expect(await good.whenDrained(20_000)).toBe(true);

    const { logger, text } = capturingLogger();
    const urls = nats.urls.map((url) => url.replace("nats://", "nats://zp:url-secret@"));
    const bad = await publishOne(
      eventsConfig(
        urls,
        join(dir, "state-b"),
        { userFile: join(dir, "user"), passwordFile: join(dir, "wrong") },
        "srv-b",
      ),
      logger,
    );
    await waitForNats(
      "the authorization failure to be logged",
      () => /authorization|auth/i.test(bad.status().problem ?? ""),
      30_000,
    );
    expect(bad.ready()).toBe(true); // not required: the server stays ready and spools
    expect(bad.status().connected).toBe(false);
    expect(text()).not.toContain("wrong-password-value");
    expect(text()).not.toContain("url-secret");
  });

  it("authenticates with an nkey seed file", async () => {
    dir = tempDir();
    const user = nkeys.createUser();
    const publicKey = user.getPublicKey();
    nats = await startNats({ extraConfig: `authorization { users: [ { nkey: "${publicKey}" } ] }` });
    writeFileSync(join(dir, "user.nk"), new TextDecoder().decode(user.getSeed()));
    const { logger, text } = capturingLogger();
    const service = await publishOne(
      eventsConfig(nats.urls, dir, { nkeySeedFile: join(dir, "user.nk") }),
      logger,
    );
    expect(await service.whenDrained(20_000)).toBe(true);
    expect(text()).not.toContain(new TextDecoder().decode(user.getSeed()));
  });

  it("connects over mutual TLS with CA, certificate and key files", async () => {
    dir = tempDir();
    const { ca, certs } = makeTestCa(dir, ["server", "client"]);
    nats = await startNats({
      extraConfig: `tls { cert_file: "${certs.server.cert}", key_file: "${certs.server.key}", ca_file: "${ca}", verify: true }`,
    });
    const service = await publishOne(
      eventsConfig(
        nats.urls.map((url) => url.replace("nats://", "tls://")),
        dir,
        {
          tlsCaFile: ca,
          tlsCertFile: certs.client.cert,
          tlsKeyFile: certs.client.key,
        },
      ),
      pino({ level: "silent" }),
    );
    expect(await service.whenDrained(20_000)).toBe(true);
  });

  it("fails at start, naming the setting and the path, when a credentials file is missing", async () => {
    dir = tempDir();
    const config = eventsConfig(["nats://127.0.0.1:1"], dir, { tokenFile: join(dir, "missing-token") });
    const start = startEvents({
      config,
      logger: pino({ level: "silent" }),
      registry: newRegistry(),
      handler: refusingHandler,
    });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(
      /nats\.tokenFile \(ZEROPLANE_NATS_TOKEN_FILE\) at .*missing-token: ENOENT/,
    );
  });

  it("refuses two credential methods at once", async () => {
    dir = tempDir();
    writeFileSync(join(dir, "token"), "t");
    writeFileSync(join(dir, "seed"), "s");
    const config = eventsConfig(["nats://127.0.0.1:1"], dir, {
      tokenFile: join(dir, "token"),
      nkeySeedFile: join(dir, "seed"),
    });
    await expect(
      startEvents({
        config,
        logger: pino({ level: "silent" }),
        registry: newRegistry(),
        handler: refusingHandler,
      }),
    ).rejects.toThrow(/configured more than one way \(nkeySeedFile, tokenFile\)/);
  });
});
