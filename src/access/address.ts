import ipaddr from "ipaddr.js";

/**
 * Whether `s` is an IPv4 address in dotted-quad form or an IPv6 address. ipaddr.js's own isValid also takes
 * "20006" or "0x7f.1" as IPv4 addresses, which a port number or a host name must never be taken for, and IPv6
 * addresses with a zone id.
 */
export function isAddress(s: string): boolean {
  // A zone id (`fe80::1%eth0`) names an interface of one host: never an address fwc can write into a ruleset.
  return ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(":") && !s.includes("%") && ipaddr.IPv6.isValid(s));
}

/** One spelling for an address, as DNS answers and nft listings print it: RFC 5952 for IPv6. */
export function canonicalAddress(a: string): string {
  const p = ipaddr.parse(a);
  return p.kind() === "ipv6" ? (p as ipaddr.IPv6).toRFC5952String() : p.toString();
}
