const { StreamingContext, KafkaUtils, ConsumerStrategies, silentLogger } = require('@dstream/core');
const { KafkaOffsetStore } = require('@dstream/offsets-kafka');
const topic = process.argv[2];
const ssc = new StreamingContext({ appName: 'probe', batchIntervalMs: 1000, stopOnSignals: false, logger: silentLogger });
const lines = KafkaUtils.createDirectStream(ssc, {
  kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'probe-' + Date.now() },
  strategy: ConsumerStrategies.Subscribe([topic]), offsetStore: new KafkaOffsetStore(), startingOffsets: 'earliest',
  valueDeserializer: 'string', logger: silentLogger });
let total = 0; const t0 = Date.now(); const cpu0 = process.cpuUsage();
lines.flatMap((r) => r.value.split(' ')).map((w) => [w, 1]).reduceByKey((a, b) => a + b).foreachBatch((c) => {});
ssc.addStreamingListener({ onBatchCompleted: ({ info }) => { total += info.numRecords; console.log(Date.now() - t0, info.numRecords, 'proc', info.processingDelayMs, 'sched', info.schedulingDelayMs, 'rss', Math.round(process.memoryUsage.rss()/1e6), 'heap', Math.round(process.memoryUsage().heapTotal/1e6), Math.round(process.memoryUsage().heapUsed/1e6), 'ext', Math.round(process.memoryUsage().external/1e6), 'streamed', lines.node.isStreamed); if (total >= Number(process.argv[3])) { const cpu = process.cpuUsage(cpu0); console.log('dstream', Date.now() - t0, 'cpu', Math.round((cpu.user + cpu.system) / 1000)); } if (total >= Number(process.argv[3])) ssc.stop({graceful:false}).then(()=>process.exit(0)); } });
ssc.start();
