package dstream.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.spark.SparkConf;
import org.apache.spark.streaming.Durations;
import org.apache.spark.streaming.api.java.JavaInputDStream;
import org.apache.spark.streaming.api.java.JavaStreamingContext;
import org.apache.spark.streaming.kafka010.ConsumerStrategies;
import org.apache.spark.streaming.kafka010.HasOffsetRanges;
import org.apache.spark.streaming.kafka010.KafkaUtils;
import org.apache.spark.streaming.kafka010.LocationStrategies;
import org.apache.spark.streaming.kafka010.OffsetRange;
import scala.Tuple2;

/**
 * The Spark Streaming contender of bench/throughput.ts: a direct Kafka stream on local[N] reads a
 * topic from the start and counts words (split each value on spaces) per batch with reduceByKey,
 * merging each batch's counts into the driver's totals; it stops once the batches' offset ranges
 * cover the expected record count and prints one JSON line: elapsed ms (from ssc.start() to the
 * end of the batch that covered the last record), the totals, and the process's peak RSS.
 *
 * Arguments: brokers topic records batchIntervalMs master
 */
public final class SparkWordCount {
  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    String topic = args[1];
    long records = Long.parseLong(args[2]);
    long batchMs = Long.parseLong(args[3]);
    String master = args.length > 4 ? args[4] : "local[2]";

    SparkConf conf = new SparkConf()
        .setMaster(master)
        .setAppName("dstream-bench-spark")
        .set("spark.ui.enabled", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.streaming.kafka.consumer.poll.ms", "10000");
    JavaStreamingContext ssc = new JavaStreamingContext(conf, Durations.milliseconds(batchMs));
    ssc.sparkContext().setLogLevel("ERROR");

    Map<String, Object> kafkaParams = new HashMap<>();
    kafkaParams.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    kafkaParams.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    kafkaParams.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    kafkaParams.put(ConsumerConfig.GROUP_ID_CONFIG, "dstream-bench-spark-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis());
    kafkaParams.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    kafkaParams.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);

    JavaInputDStream<ConsumerRecord<byte[], String>> stream = KafkaUtils.createDirectStream(
        ssc,
        LocationStrategies.PreferConsistent(),
        ConsumerStrategies.<byte[], String>Subscribe(List.of(topic), kafkaParams));

    Map<String, Long> totals = new HashMap<>();
    AtomicLong seen = new AtomicLong();
    AtomicLong endedAt = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    long[] startedAt = new long[1];

    stream.foreachRDD(rdd -> {
      OffsetRange[] ranges = ((HasOffsetRanges) rdd.rdd()).offsetRanges();
      long count = 0;
      for (OffsetRange range : ranges) count += range.count();
      if (count == 0) return;
      List<Tuple2<String, Long>> counts = rdd
          .flatMap(record -> Arrays.asList(record.value().split(" ")).iterator())
          .mapToPair(word -> new Tuple2<>(word, 1L))
          .reduceByKey(Long::sum)
          .collect();
      for (Tuple2<String, Long> entry : counts) totals.merge(entry._1(), entry._2(), Long::sum);
      if (seen.addAndGet(count) >= records && endedAt.get() == 0) {
        endedAt.set(System.nanoTime());
        done.countDown();
      }
    });

    startedAt[0] = System.nanoTime();
    ssc.start();
    done.await();
    long ms = (endedAt.get() - startedAt[0]) / 1_000_000;
    long peakRss = peakRssBytes();
    ssc.stop(true, false);

    StringBuilder json = new StringBuilder();
    json.append("{\"ms\":").append(ms).append(",\"records\":").append(seen.get())
        .append(",\"peakRssBytes\":").append(peakRss).append(",\"totals\":[");
    List<String> entries = new ArrayList<>();
    for (Map.Entry<String, Long> entry : totals.entrySet()) {
      entries.add("[\"" + entry.getKey().replace("\\", "\\\\").replace("\"", "\\\"") + "\"," + entry.getValue() + "]");
    }
    json.append(String.join(",", entries)).append("]}");
    System.out.println(json);
    System.exit(0);
  }

  /** The kernel's high-water mark of this process's resident memory (VmHWM), or 0 without /proc. */
  private static long peakRssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    } catch (Exception ignored) {
      // No /proc: report 0.
    }
    return 0;
  }
}
