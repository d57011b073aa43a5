#!/usr/bin/env python3
"""Sends one hand-made Ethernet frame (or --count copies of it) on an interface, for the spoofing tests.

    rawframe.py DEV --src-mac M --dst-mac M [--vlan0 0|1|2] [--count N] udp SRC DST SPORT DPORT [PAYLOAD]
    rawframe.py DEV --src-mac M --dst-mac M [--vlan0 0|1|2] [--count N] arp SENDER_IP SENDER_MAC TARGET_IP TARGET_MAC
    rawframe.py DEV --src-mac M --dst-mac M [--vlan0 0|1|2] [--count N] ether TYPE [PAYLOAD]

`--vlan0 N` puts N 802.1Q tags with VLAN id 0 (priority tags) between the MAC addresses and the ethertype: a
Linux host strips them and reads what is inside as if the frame were untagged. `udp` is an IPv4 UDP datagram,
`arp` an ARP reply ("SENDER_IP is at SENDER_MAC", addressed to TARGET_IP/TARGET_MAC), `ether` any ethertype
(hexadecimal, 0x88b5 is the IEEE's local experimental type) with a payload. Needs root (AF_PACKET).
"""

import argparse
import socket
import struct


def mac(text):
    """02:00:00:00:01:03 as 6 bytes."""
    b = bytes(int(x, 16) for x in text.split(":"))
    if len(b) != 6:
        raise argparse.ArgumentTypeError(f"not a MAC address: {text}")
    return b


def checksum(data):
    """The Internet checksum (RFC 1071): ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def udp4(src, dst, sport, dport, payload):
    """An IPv4 header and a UDP datagram, both checksums right (else the receiver drops it silently)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    length = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    c = checksum(pseudo + header + payload) or 0xFFFF  # 0 means "no checksum" in UDP
    udp = struct.pack("!HHHH", sport, dport, length, c) + payload
    # Version 4, header of 5 words, TTL 64, don't fragment; the header checksum is filled in below.
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, socket.IPPROTO_UDP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return 0x0800, ip + udp


def arp_reply(sender_ip, sender_mac, target_ip, target_mac):
    """An ARP reply (opcode 2) for Ethernet and IPv4: "sender_ip is at sender_mac"."""
    body = struct.pack(
        "!HHBBH6s4s6s4s",
        1,  # hardware: Ethernet
        0x0800,  # protocol: IPv4
        6,
        4,
        2,  # reply
        mac(sender_mac),
        socket.inet_aton(sender_ip),
        mac(target_mac),
        socket.inet_aton(target_ip),
    )
    return 0x0806, body


def main():
    p = argparse.ArgumentParser(description="Send one hand-made Ethernet frame.")
    p.add_argument("dev")
    p.add_argument("--src-mac", type=mac, required=True)
    p.add_argument("--dst-mac", type=mac, required=True)
    p.add_argument("--vlan0", type=int, choices=[0, 1, 2], default=0, help="how many 802.1Q tags with VLAN id 0")
    p.add_argument("--count", type=int, default=1, help="send the frame this many times")
    kind = p.add_subparsers(dest="kind", required=True)
    u = kind.add_parser("udp")
    u.add_argument("src")
    u.add_argument("dst")
    u.add_argument("sport", type=int)
    u.add_argument("dport", type=int)
    u.add_argument("payload", nargs="?", default="rawframe")
    a = kind.add_parser("arp")
    a.add_argument("sender_ip")
    a.add_argument("sender_mac")
    a.add_argument("target_ip")
    a.add_argument("target_mac")
    e = kind.add_parser("ether")
    e.add_argument("type", type=lambda t: int(t, 16))
    e.add_argument("payload", nargs="?", default="rawframe")
    o = p.parse_args()

    if o.kind == "udp":
        ethertype, body = udp4(o.src, o.dst, o.sport, o.dport, o.payload.encode())
    elif o.kind == "arp":
        ethertype, body = arp_reply(o.sender_ip, o.sender_mac, o.target_ip, o.target_mac)
    else:
        ethertype, body = o.type, o.payload.encode()
    # Destination, source, then the tags (TPID 0x8100, TCI 0: priority 0, VLAN id 0), then the ethertype.
    frame = o.dst_mac + o.src_mac + struct.pack("!HH", 0x8100, 0) * o.vlan0 + struct.pack("!H", ethertype) + body
    frame += b"\0" * max(0, 60 - len(frame))  # Ethernet's minimum frame (without the FCS)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((o.dev, 0))
        for _ in range(o.count):
            s.send(frame)
    print(f"sent {o.count} x {len(frame)} bytes, {o.vlan0} VLAN-0 tag(s), {o.kind}")


if __name__ == "__main__":
    main()
