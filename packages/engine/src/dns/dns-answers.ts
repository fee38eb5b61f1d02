import * as dnsPacket from 'dns-packet';
import { type DnsRecords, type DnsSandbox, dnsName } from './dns-records.js';

/** Docker's TTL for the embedded server's own answers. */
const ttl = 600;
/** RFC 1035's limit for a UDP answer to a query without EDNS. */
const classicUdpSize = 512;
const rcodeFormErr = 1;
const rcodeServFail = 2;

/** The resolver's decision on a query: an answer to send back, or the query to pass upstream. */
export type DnsDecision = { answer: Buffer } | { forward: true };

/**
 * Answer one query of `sandbox` from the records, or decide it goes upstream. Names the
 * container sees (its links, then the names on each of its networks, in order) answer A
 * with their addresses; AAAA or any other type of a known name answers empty (NOERROR: the
 * name exists, with no such record), as Docker's; a PTR of a container's address answers
 * its `name.network`. Anything else is forwarded. Over UDP (`maxUdp` set) an answer longer
 * than the asker accepts (512 bytes, or its EDNS size) is sent truncated (TC) with no
 * records, so the client asks again over TCP. A query that does not parse gets FORMERR
 * when its id can be read, nothing otherwise.
 */
export function answerQuery(records: DnsRecords, sandbox: DnsSandbox, query: Buffer, overUdp: boolean): DnsDecision | undefined {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    return query.length >= 2 ? { answer: errorAnswer(query.readUInt16BE(0), [], rcodeFormErr, 0) } : undefined;
  }
  const question = packet.questions?.[0];
  if (packet.type !== 'query' || !question || packet.questions!.length !== 1) {
    return { answer: errorAnswer(packet.id ?? 0, packet.questions ?? [], rcodeFormErr, packet.flags ?? 0) };
  }
  const name = dnsName(question.name);
  let answers: dnsPacket.Answer[] | undefined;
  if (question.type === 'PTR') {
    const address = reverseAddress(name);
    const target = address ? findReverse(records, sandbox, address) : undefined;
    if (target) answers = [{ type: 'PTR', name: question.name, ttl, data: target }];
  } else {
    const addresses = lookup(records, sandbox, name);
    if (addresses) {
      answers =
        question.type === 'A' && (question.class ?? 'IN') === 'IN'
          ? addresses.map((data) => ({ type: 'A' as const, name: question.name, ttl, class: 'IN' as const, data }))
          : [];
    }
  }
  if (!answers) return { forward: true };
  const flags = responseFlags(packet.flags ?? 0);
  const response: dnsPacket.Packet = { type: 'response', id: packet.id, flags, questions: [question], answers };
  let buf = dnsPacket.encode(response);
  if (overUdp && buf.length > udpLimit(packet)) {
    buf = dnsPacket.encode({ ...response, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }
  return { answer: buf };
}

/** A SERVFAIL answer to `query` (the upstream servers did not answer in time), or undefined when even its id cannot be read. */
export function serverFailure(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  try {
    const packet = dnsPacket.decode(query);
    return errorAnswer(packet.id ?? 0, packet.questions ?? [], rcodeServFail, packet.flags ?? 0);
  } catch {
    return errorAnswer(query.readUInt16BE(0), [], rcodeServFail, 0);
  }
}

/** The addresses of a name as `sandbox` sees it, or undefined when it is not one of its names. */
export function lookup(records: DnsRecords, sandbox: DnsSandbox, name: string): string[] | undefined {
  const linked = sandbox.links[name];
  if (linked) return linked;
  for (const network of sandbox.networks) {
    const found = records.networks[network]?.[name];
    if (found) return found;
  }
  return undefined;
}

function findReverse(records: DnsRecords, sandbox: DnsSandbox, address: string): string | undefined {
  for (const network of sandbox.networks) {
    const found = records.reverse[network]?.[address];
    if (found) return found;
  }
  return undefined;
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`; undefined for any other name. */
function reverseAddress(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}

/** A response's flags: the query's RD and CD kept, RA set (the server recurses, through its upstreams). */
function responseFlags(queryFlags: number): number {
  return (queryFlags & (dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED)) | dnsPacket.RECURSION_AVAILABLE;
}

function udpLimit(packet: dnsPacket.DecodedPacket): number {
  const opt = packet.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(classicUdpSize, opt?.udpPayloadSize ?? classicUdpSize);
}

function errorAnswer(id: number, questions: dnsPacket.Question[], rcode: number, queryFlags: number): Buffer {
  return dnsPacket.encode({ type: 'response', id, flags: responseFlags(queryFlags) | rcode, questions, answers: [] });
}
