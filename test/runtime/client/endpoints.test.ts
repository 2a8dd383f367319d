import { promises as dns } from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClientUsageError,
  UnreachableError,
  defaultPublishEndpoint,
  parseEndpoint,
  resolveEndpoints,
  splitEndpoints,
} from "../../../runtime/client/index.js";
import { startDnsServer, type DnsTestServer } from "./support/dns-server.js";

describe("endpoint specs", () => {
  it("parses tcp, dns and ipc endpoints, including IPv6 literals", () => {
    expect(parseEndpoint("tcp://10.0.0.1:5555")).toMatchObject({
      scheme: "tcp",
      host: "10.0.0.1",
      port: 5555,
    });
    expect(parseEndpoint("dns://zp.agents.svc:7000")).toMatchObject({
      scheme: "dns",
      host: "zp.agents.svc",
      port: 7000,
    });
    expect(parseEndpoint("tcp://[::1]:5555")).toMatchObject({ host: "::1", port: 5555 });
    expect(parseEndpoint("ipc:///tmp/zp.sock")).toMatchObject({
      scheme: "ipc",
      host: "/tmp/zp.sock",
      port: null,
    });
  });

  it("rejects a bad endpoint, naming it and the expected form", () => {
    expect(() => parseEndpoint("http://host:5555")).toThrow(
      /invalid endpoint "http:\/\/host:5555".*tcp:\/\//,
    );
    expect(() => parseEndpoint("tcp://host")).toThrow(/host:port/);
    expect(() => parseEndpoint("tcp://host:70000")).toThrow(ClientUsageError);
  });

  it("splits comma-separated lists and drops blanks", () => {
    expect(splitEndpoints(" tcp://a:1, ,tcp://b:2 ")).toEqual(["tcp://a:1", "tcp://b:2"]);
    expect(splitEndpoints(["tcp://a:1,tcp://b:2", "tcp://c:3"])).toEqual([
      "tcp://a:1",
      "tcp://b:2",
      "tcp://c:3",
    ]);
  });

  it("puts the PUB endpoint on the ROUTER port + 1 unless told otherwise", async () => {
    expect(defaultPublishEndpoint("tcp://10.1.2.3:5555")).toBe("tcp://10.1.2.3:5556");
    expect(defaultPublishEndpoint("tcp://[::1]:7000")).toBe("tcp://[::1]:7001");
    const [explicit] = await resolveEndpoints(["tcp://127.0.0.1:1000"], {
      publishEndpoints: ["tcp://127.0.0.1:2000"],
    });
    expect(explicit).toEqual({ endpoint: "tcp://127.0.0.1:1000", publishEndpoint: "tcp://127.0.0.1:2000" });
    await expect(
      resolveEndpoints(["tcp://a:1", "tcp://b:2"], { publishEndpoints: ["tcp://a:3"] }),
    ).rejects.toThrow(/1 publish endpoints for 2 endpoints/);
  });

  it("asks for endpoints when none are given", async () => {
    await expect(resolveEndpoints([])).rejects.toThrow(/no server endpoints given.*ZEROPLANE_ENDPOINTS/);
  });
});

describe("dns:// endpoints against a real DNS server", () => {
  let server: DnsTestServer;
  let resolver: dns.Resolver;

  beforeAll(async () => {
    server = await startDnsServer({
      "agents.zeroplane.test": ["127.0.0.3", "127.0.0.1", "::1", "127.0.0.2"],
      "one.zeroplane.test": ["127.0.0.9"],
    });
    resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
    resolver.setServers([server.address]);
  });
  afterAll(() => server.close());

  it("expands a name into one server per A and AAAA record, in a stable order", async () => {
    const addresses = await resolveEndpoints(["dns://agents.zeroplane.test:5555"], { resolver });
    expect(addresses.map((a) => a.endpoint)).toEqual([
      "tcp://127.0.0.1:5555",
      "tcp://127.0.0.2:5555",
      "tcp://127.0.0.3:5555",
      "tcp://[::1]:5555",
    ]);
    expect(addresses[3]!.publishEndpoint).toBe("tcp://[::1]:5556");
  });

  it("mixes names and addresses, dropping duplicates", async () => {
    const addresses = await resolveEndpoints(
      ["dns://one.zeroplane.test:5555", "tcp://127.0.0.9:5555", "tcp://127.0.0.1:6000"],
      { resolver },
    );
    expect(addresses.map((a) => a.endpoint)).toEqual(["tcp://127.0.0.9:5555", "tcp://127.0.0.1:6000"]);
  });

  it("reports a name without addresses as unreachable, with the name and a hint", async () => {
    const error = await resolveEndpoints(["dns://missing.zeroplane.test:5555"], { resolver }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(UnreachableError);
    expect((error as Error).message).toMatch(
      /"missing.zeroplane.test" resolved to no addresses.*headless Service/,
    );
  });
});
