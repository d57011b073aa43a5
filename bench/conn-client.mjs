// Opens COUNT sequential TCP connections to ADDR:PORT (each answered and closed by the server) and prints the
// number of completed connections per second. Bounded in count and time.
import { createConnection } from "node:net";

const [addr, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText ?? 1000);
const deadline = Date.now() + 30_000;
let done = 0;
const start = process.hrtime.bigint();
function one() {
  if (done >= count || Date.now() > deadline) {
    const sec = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(JSON.stringify({ connections: done, seconds: sec, perSecond: done / sec }));
    return;
  }
  const s = createConnection({ host: addr, port });
  s.on("data", () => {});
  s.on("end", () => {
    done++;
    setImmediate(one);
  });
  s.on("error", () => {
    console.log(JSON.stringify({ error: "connection failed", done }));
    process.exit(1);
  });
}
one();
