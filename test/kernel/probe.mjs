// A tiny TCP/UDP peer for the packet tests, run inside a network namespace.
//   node probe.mjs listen tcp|udp ADDR PORT NAME   answers every connection or datagram with "NAME <peer-address>"
//   node probe.mjs send tcp|udp ADDR PORT [TIMEOUT_MS [FROM]]  prints the answer, or TIMEOUT/REFUSED; exits 0
//   node probe.mjs echo tcp ADDR PORT NAME     keeps each connection open and answers every line with "NAME line"
//   node probe.mjs session tcp ADDR PORT       one long connection: prints "connected", sends each line of its
//                                               standard input, prints each answer line, and "CLOSED" at the end
import { createSocket } from "node:dgram";
import { createConnection, createServer } from "node:net";

const [mode, proto, addr, portText, arg, from] = process.argv.slice(2);
const port = Number(portText);
if (mode === "echo") {
  createServer((s) => {
    let buf = "";
    s.on("data", (d) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        s.write(`${arg} ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
    s.on("error", () => {});
  }).listen(port, addr, () => console.log("ready"));
} else if (mode === "session") {
  const s = createConnection({ host: addr, port }, () => console.log("connected"));
  let buf = "";
  s.on("data", (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      console.log(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const end = () => {
    console.log("CLOSED");
    process.exit(0);
  };
  s.on("error", end);
  s.on("close", end);
  process.stdin.on("data", (d) => s.write(d));
} else if (mode === "listen") {
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
