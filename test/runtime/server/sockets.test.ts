import { afterEach, describe, expect, it } from "vitest";
import { Context, Publisher, Router } from "zeromq";
import { generateKeypair } from "../../../runtime/security/keys.js";
import { ZAP_DOMAIN } from "../../../runtime/security/zap.js";
import { hardMessageLimit, serverSocketOptions } from "../../../runtime/server/sockets.js";
import { testConfig } from "./harness.js";

const sockets: Array<Router | Publisher> = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

describe("server socket options", () => {
  it("apply the configured heartbeats, high-water marks, handshake timeout and size ceiling", () => {
    const config = testConfig({
      server: {
        heartbeatIntervalMs: 1_000,
        heartbeatTimeoutMs: 3_000,
        heartbeatTtlMs: 6_000,
        sendHighWaterMark: 123,
        receiveHighWaterMark: 456,
        handshakeTimeoutMs: 7_000,
        maxMessageBytes: 1_000,
      },
    });
    const router = new Router(serverSocketOptions(config, new Context(), null, "router"));
    sockets.push(router);
    expect(router.heartbeatInterval).toBe(1_000);
    expect(router.heartbeatTimeout).toBe(3_000);
    expect(router.heartbeatTimeToLive).toBe(6_000);
    expect(router.sendHighWaterMark).toBe(123);
    expect(router.receiveHighWaterMark).toBe(456);
    expect(router.handshakeInterval).toBe(7_000);
    expect(router.tcpKeepalive).toBe(1);
    expect(router.maxMessageSize).toBe(2_000);
    expect(router.curveServer).toBe(false);
    expect(router.securityMechanism).toBeNull();
  });

  it("turn on CURVE with ZAP enforced when a secret key is given, for the PUB socket too", () => {
    const { secretKey } = generateKeypair();
    const publisher = new Publisher(serverSocketOptions(testConfig(), new Context(), secretKey, "publisher"));
    sockets.push(publisher);
    expect(publisher.curveServer).toBe(true);
    expect(publisher.securityMechanism).toBe("curve");
    expect(publisher.zapDomain).toBe(ZAP_DOMAIN);
    expect(publisher.zapEnforceDomain).toBe(true);
  });

  it("keep libzmq's ceiling above the served limit so oversize requests can still be answered", () => {
    expect(hardMessageLimit(1024)).toBe(2048);
    expect(hardMessageLimit(100 * 1024 * 1024)).toBe(164 * 1024 * 1024);
  });
});
