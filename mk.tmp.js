const { createTopic } = require('@dstream/test-utils');
const { produceSentences } = require('./bench/dist/lib/kafka');
(async () => { await createTopic('probe-2m', 4, { brokers: '127.0.0.1:9092' }); const r = await produceSentences('127.0.0.1:9092', 'probe-2m', 2000000, 100); console.log(r.ms); process.exit(0); })();
