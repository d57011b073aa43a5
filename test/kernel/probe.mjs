// A tiny TCP/UDP peer for the packet tests, run inside a network namespace.
//   node probe.mjs listen tcp|udp ADDR PORT NAME   answers every connection or datagram with "NAME <peer-address>"
//   node probe.mjs send tcp|udp ADDR PORT [TIMEOUT_MS [FROM]]  prints the answer, or TIMEOUT/REFUSED; exits 0
import { createSocket } from "node:dgram";
import { createConnection, createServer } from "node:net";

const [mode, proto, addr, portText, arg, from] = process.argv.slice(2);
const port = Number(portText);
if (mode === "listen") {
  const name = arg ?? "peer";
  if (proto === "tcp") {
    createServer((s) => {
      s.end(`${name} ${s.remoteAddress}\n`);
      s.on("error", () => {});
    }).listen(port, addr, () => console.log("ready"));
  } else {
    const sock = createSocket(addr.includes(":") ? "udp6" : "udp4");
    sock.on("message", (_m, rinfo) => sock.send(`${name} ${rinfo.address}\n`, rinfo.port, rinfo.address));
    sock.bind(port, addr, () => console.log("ready"));
  }
} else {
  const timeout = Number(arg ?? 1000);
  const done = (text) => {
    console.log(text.trim());
    process.exit(0);
  };
  setTimeout(() => done("TIMEOUT"), timeout);
  if (proto === "tcp") {
    const s = createConnection(from ? { host: addr, port, localAddress: from } : { host: addr, port });
    let buf = "";
    s.on("data", (d) => (buf += d));
    s.on("end", () => done(buf));
    s.on("error", () => done("REFUSED"));
  } else {
    const sock = createSocket(addr.includes(":") ? "udp6" : "udp4");
    sock.on("message", (m) => done(String(m)));
    const go = () => sock.send("ping", port, addr);
    if (from) sock.bind(0, from, go);
    else go();
  }
}
