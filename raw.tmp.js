const RdKafka = require('node-rdkafka');
const topic = process.argv[2], records = Number(process.argv[3]);
const tuned = process.argv[4] === 'tuned' ? { 'fetch.min.bytes': 1 << 20, 'fetch.wait.max.ms': 100, 'queued.min.messages': 1e6, 'queued.max.messages.kbytes': 1 << 20 } : {};
const c = new RdKafka.KafkaConsumer({ 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'raw-' + Date.now(), 'enable.auto.commit': false, ...tuned }, {});
const totals = new Map();
c.connect({ timeout: 10000 }, async () => {
  const t0 = Date.now(); const cpu0 = process.cpuUsage();
  c.assign([0,1,2,3].map((partition) => ({ topic, partition, offset: 0 })));
  c.setDefaultConsumeTimeout(100);
  let seen = 0;
  while (seen < records) {
    const ms = await new Promise((res, rej) => c.consume(10000, (e, b) => e ? rej(e) : res(b)));
    for (const m of ms) for (const w of m.value.toString('utf8').split(' ')) totals.set(w, (totals.get(w) ?? 0) + 1);
    seen += ms.length;
  }
  const cpu = process.cpuUsage(cpu0);
  console.log('raw', Date.now() - t0, 'ms', 'cpu', Math.round((cpu.user + cpu.system) / 1000), 'rss', Math.round(process.memoryUsage.rss() / 1e6));
  process.exit(0);
});
