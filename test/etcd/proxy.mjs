// A TCP relay to etcd that can be cut without closing anything, in a process of its own (the test's own event
// loop stops while it runs fwc synchronously). Usage: node proxy.mjs HOST PORT; prints the port it listens on.
// SIGUSR1: cut (connections stay open, nothing passes, new ones hang); SIGUSR2: restore (the old connections
// are closed, new ones pass).
import net from "node:net";

const [host, port] = process.argv.slice(2);
let open = true;
const pairs = new Set();
const server = net.createServer((a) => {
  if (!open) {
    a.pause();
    pairs.add([a, a]);
    return;
  }
  const b = net.connect(Number(port), host);
  const pair = [a, b];
  pairs.add(pair);
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
    pairs.delete(pair);
  };
  for (const s of pair) {
    s.on("error", end);
    s.on("close", end);
  }
});
process.on("SIGUSR1", () => {
  open = false;
  for (const [a, b] of pairs) {
    a.unpipe();
    b.unpipe();
    a.pause();
    b.pause();
  }
});
process.on("SIGUSR2", () => {
  open = true;
  for (const [a, b] of pairs) {
    a.destroy();
    b.destroy();
  }
  pairs.clear();
});
process.on("SIGTERM", () => process.exit(0));
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
