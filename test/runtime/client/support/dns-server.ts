/**
 * A small authoritative DNS server on loopback UDP, for testing dns:// endpoints the way a Kubernetes
 * headless Service answers: one name, several A (and AAAA) records. Point a node `dns.promises.Resolver`
 * at it with `setServers([server.address])`. Answers can change while it runs.
 */
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";

const TYPE_A = 1;
const TYPE_AAAA = 28;

export interface DnsTestServer {
  /** "127.0.0.1:<port>", for Resolver.setServers. */
  readonly address: string;
  /** Replaces the addresses a name resolves to (IPv4 and IPv6 mixed). */
  setRecords(name: string, ips: readonly string[]): void;
  /** How many queries were answered. */
  readonly queries: () => number;
  close(): Promise<void>;
}

export async function startDnsServer(
  records: Record<string, readonly string[]> = {},
): Promise<DnsTestServer> {
  const zone = new Map<string, readonly string[]>(
    Object.entries(records).map(([name, ips]) => [name.toLowerCase(), ips]),
  );
  let answered = 0;
  const socket: Socket = createSocket("udp4");
  socket.on("message", (query, peer) => {
    const reply = answer(query, zone);
    if (!reply) return;
    answered += 1;
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    setRecords: (name, ips) => zone.set(name.toLowerCase(), ips),
    queries: () => answered,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function answer(query: Buffer, zone: ReadonlyMap<string, readonly string[]>): Buffer | null {
  if (query.length < 12) return null;
  // Question: labels up to a zero byte, then type and class.
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) {
    const length = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString("ascii"));
    offset += length + 1;
  }
  const questionEnd = offset + 5;
  if (questionEnd > query.length) return null;
  const type = query.readUInt16BE(offset + 1);
  const name = labels.join(".").toLowerCase();
  const ips = zone.get(name);
  const family = type === TYPE_A ? 4 : type === TYPE_AAAA ? 6 : 0;
  const matching = (ips ?? []).filter((ip) => isIP(ip) === family);

  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (ips ? 0 : 3), 2); // QR, AA, RD echo, NXDOMAIN
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(matching.length, 6);
  const answers = matching.map((ip) => {
    const data = family === 4 ? Buffer.from(ip.split(".").map(Number)) : ipv6Bytes(ip);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    record.writeUInt16BE(type, 2);
    record.writeUInt16BE(1, 4); // class IN
    record.writeUInt32BE(5, 6); // TTL seconds
    record.writeUInt16BE(data.length, 10);
    return Buffer.concat([record, data]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const headParts = head ? head.split(":") : [];
  const tailParts = tail ? tail.split(":") : [];
  const fill = new Array(8 - headParts.length - tailParts.length).fill("0");
  const parts = tail === undefined ? headParts : [...headParts, ...fill, ...tailParts];
  const bytes = Buffer.alloc(16);
  parts.forEach((part, i) => bytes.writeUInt16BE(parseInt(part || "0", 16), i * 2));
  return bytes;
}
