// MQTT.js (Debian's node-mqtt, 4.x, or npm's "mqtt") against a WebSocket listener, for
// test/integration/43-ws-mqttjs.py.
//
//   node mqttjs_client.js URL [CAFILE]
//
// Connects with MQTT 5 (subprotocol "mqtt"), subscribes to js/in at QoS 1
// and prints "READY"; prints "GOT <payload>" for each message on js/in,
// answering each with "echo <payload>" on js/out at QoS 1; exits 0 after
// the message "bye". Any error exits 1.
const mqtt = require("mqtt");
const fs = require("fs");

const url = process.argv[2];
const opts = {
  protocolVersion: 5,
  clientId: "mqttjs-" + process.pid,
  reconnectPeriod: 0,
  connectTimeout: 5000,
};
if (process.argv[3]) {
  opts.ca = fs.readFileSync(process.argv[3]);
  opts.rejectUnauthorized = true;
}
const c = mqtt.connect(url, opts);
const fail = (what) => {
  console.log("ERROR " + what);
  process.exit(1);
};
setTimeout(() => fail("timeout"), 20000).unref();
c.on("error", (e) => fail(e.message));
c.on("close", () => {
  if (!c.done) fail("closed");
});
c.on("connect", () => {
  c.subscribe("js/in", { qos: 1 }, (err, granted) => {
    if (err) fail("subscribe: " + err.message);
    console.log("READY " + granted[0].qos);
  });
});
c.on("message", (topic, payload) => {
  const s = payload.toString();
  console.log("GOT " + s);
  c.publish("js/out", "echo " + s, { qos: 1 }, () => {
    if (s === "bye") {
      c.done = true;
      c.end(false, {}, () => process.exit(0));
    }
  });
});
