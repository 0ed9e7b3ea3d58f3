// Helpers for bench/run.sh that need a Kafka or JDBC client, in one long-lived JVM each (compiled
// once per invocation against the jars of scripts/kafka.sh and the JDBC drivers of the Debezium
// plugins).
//
//   BenchTool offsets BOOTSTRAP
//       reads commands on stdin, one per line, answers each on stdout:
//       "wait TOPIC N TIMEOUT_MS" -> "reached first_ms=F last_ms=L first_count=C1 count=C" once the sum of the
//          topic's end offsets (the high watermark: what a consumer can read) is >= N, polled
//          every 5 ms; F = the first poll that saw a record (C1 of them), L = the first that saw N;
//          "timeout count=C" after TIMEOUT_MS
//       "count TOPIC" -> "count=C"
//       "delete TOPIC..." -> "deleted" (the topics that exist are deleted)
//       "create TOPIC" -> "created" (with the broker's defaults, if it does not exist yet)
//       "quit" ends it
//       "sqlwait JDBC_URL USER PASSWORD N TIMEOUT_MS SQL..." -> as wait, for a query's number
//          (e.g. SELECT max(id) FROM t; 0 while it fails), polled every 20 ms on one connection
//   BenchTool track BOOTSTRAP TOPIC OUT
//       polls the topic's end offset every POLL_US microseconds (default 1000) until stdin closes
//       or says anything,
//       appends "epoch_us end_offset" to OUT at each change
//   BenchTool size BOOTSTRAP TOPIC
//       reads the whole topic, prints "records=N key_bytes=K value_bytes=V"
//   BenchTool gen JDBC_URL USER PASSWORD mariadb|postgres TABLE FIRST_ID RATE SECONDS OUT
//       commits RATE rows/s into TABLE for SECONDS: one autocommit INSERT ... SELECT of RATE/100
//       rows every 10 ms (issued at once when behind); appends "epoch_us cumulative_rows" to OUT
//       after each commit returns
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.time.*;
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class BenchTool {
  static long nowUs() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1000;
  }

  static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("allow.auto.create.topics", "false");
    p.put("client.id", "sluice-bench-offsets");
    p.put("request.timeout.ms", "5000");
    p.put("default.api.timeout.ms", "5000");
    return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  // end offsets of a topic's partitions, summed; -1 while the topic does not exist
  static final Map<String, List<TopicPartition>> parts = new HashMap<>();

  static long end(KafkaConsumer<byte[], byte[]> c, String topic) {
    List<TopicPartition> tps = parts.get(topic);
    if (tps == null) {
      List<PartitionInfo> infos;
      try {
        infos = c.partitionsFor(topic, Duration.ofMillis(500));
      } catch (Exception e) {
        infos = null;
      }
      if (infos == null || infos.isEmpty()) return -1;
      tps = new ArrayList<>();
      for (PartitionInfo i : infos) tps.add(new TopicPartition(topic, i.partition()));
      parts.put(topic, tps);
    }
    long s = 0;
    for (long v : c.endOffsets(tps, Duration.ofSeconds(5)).values()) s += v;
    return s;
  }

  static void offsets(String bootstrap) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
      System.out.println("ready");
      System.out.flush();
      String line;
      while ((line = in.readLine()) != null) {
        String[] a = line.trim().split("\\s+");
        if (a[0].equals("wait")) {
          String topic = a[1];
          long n = Long.parseLong(a[2]);
          long deadline = System.currentTimeMillis() + Long.parseLong(a[3]);
          long first = 0, firstCount = 0, have = 0;
          while (true) {
            try {
              have = end(c, topic);
            } catch (Exception e) {
              have = 0;
            }
            long t = System.currentTimeMillis();
            if (have > 0 && first == 0) { first = t; firstCount = have; }
            if (have >= n) {
              System.out.println("reached first_ms=" + first + " last_ms=" + t + " first_count=" + firstCount + " count=" + have);
              break;
            }
            if (t > deadline) {
              System.out.println("timeout count=" + have);
              break;
            }
            Thread.sleep(5);
          }
        } else if (a[0].equals("sqlwait")) {
          long n = Long.parseLong(a[4]);
          long deadline = System.currentTimeMillis() + Long.parseLong(a[5]);
          String sql = line.trim().split("\\s+", 7)[6];
          long first = 0, firstCount = 0, have = 0;
          Connection conn = null;
          while (true) {
            try {
              if (conn == null) conn = DriverManager.getConnection(a[1], a[2], a[3]);
              try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                have = rs.next() ? rs.getLong(1) : 0;
              }
            } catch (SQLException e) {
              have = 0;
              if (conn != null) {
                try { conn.close(); } catch (SQLException x) {}
                conn = null;
              }
            }
            long t = System.currentTimeMillis();
            if (have > 0 && first == 0) { first = t; firstCount = have; }
            if (have >= n) {
              System.out.println("reached first_ms=" + first + " last_ms=" + t + " first_count=" + firstCount + " count=" + have);
              break;
            }
            if (t > deadline) {
              System.out.println("timeout count=" + have);
              break;
            }
            Thread.sleep(20);
          }
          if (conn != null) conn.close();
        } else if (a[0].equals("delete")) {
          Properties ap = new Properties();
          ap.put("bootstrap.servers", bootstrap);
          try (Admin admin = Admin.create(ap)) {
            Set<String> have = admin.listTopics().names().get();
            List<String> del = new ArrayList<>();
            for (int i = 1; i < a.length; i++) if (have.contains(a[i])) del.add(a[i]);
            admin.deleteTopics(del).all().get();
            for (String t : del) parts.remove(t);
          }
          System.out.println("deleted");
        } else if (a[0].equals("create")) {
          Properties ap = new Properties();
          ap.put("bootstrap.servers", bootstrap);
          try (Admin admin = Admin.create(ap)) {
            if (!admin.listTopics().names().get().contains(a[1]))
              admin.createTopics(List.of(new NewTopic(a[1], Optional.empty(), Optional.empty()))).all().get();
          }
          parts.remove(a[1]);
          while (end(c, a[1]) < 0) Thread.sleep(20);
          System.out.println("created");
        } else if (a[0].equals("quit")) {
          break;
        } else if (a[0].equals("count")) {
          System.out.println("count=" + Math.max(0, end(c, a[1])));
        } else {
          System.out.println("unknown command " + a[0]);
        }
        System.out.flush();
      }
    }
  }

  static void track(String bootstrap, String topic, String out) throws Exception {
    long pollUs = Long.parseLong(System.getenv().getOrDefault("POLL_US", "1000"));
    // stdin closing (or "stop") ends the tracking
    Thread watcher = new Thread(() -> {
      try {
        System.in.read();
      } catch (IOException e) {
      }
      System.exit(0);
    });
    watcher.setDaemon(true);
    watcher.start();
    try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap);
        PrintWriter w = new PrintWriter(new BufferedWriter(new FileWriter(out, true)))) {
      Runtime.getRuntime().addShutdownHook(new Thread(w::flush));
      long last = -2;
      System.out.println("ready");
      System.out.flush();
      while (true) {
        long e;
        try {
          e = end(c, topic);
        } catch (Exception ex) {
          e = last;
        }
        long t = nowUs();
        if (e != last) {
          w.println(t + " " + e);
          w.flush();
          last = e;
        }
        long ns = pollUs * 1000;
        Thread.sleep(ns / 1_000_000, (int) (ns % 1_000_000));
      }
    }
  }

  static void gen(String url, String user, String pass, String kind, String table, long firstId,
      int rate, double seconds, String out) throws Exception {
    int perBatch = Math.max(1, rate / 100);
    long periodNs = 10_000_000L * perBatch * 100 / rate; // 10 ms when rate is a multiple of 100
    long batches = (long) Math.ceil(rate * seconds / perBatch);
    try (Connection conn = DriverManager.getConnection(url, user, pass);
        Statement st = conn.createStatement();
        PrintWriter w = new PrintWriter(new BufferedWriter(new FileWriter(out, true)))) {
      conn.setAutoCommit(true);
      long id = firstId, total = 0;
      long t0 = System.nanoTime();
      for (long b = 0; b < batches; b++) {
        long due = t0 + b * periodNs;
        long wait = due - System.nanoTime();
        if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        long a = id, z = id + perBatch - 1;
        String sql = kind.equals("postgres")
            ? "INSERT INTO " + table + " SELECT g, 'name-'||g, (g % 100000)/100.0, timestamp '2024-01-01' + g * interval '1 second', md5(g::text)||md5((g+1)::text) FROM generate_series(" + a + ", " + z + ") g"
            : "INSERT INTO " + table + " SELECT seq, CONCAT('name-',seq), (seq % 100000)/100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT(MD5(seq),MD5(seq+1)) FROM seq_" + a + "_to_" + z;
        st.executeUpdate(sql);
        total += perBatch;
        id = z + 1;
        w.println(nowUs() + " " + total);
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      System.out.printf(Locale.ROOT, "generated rows=%d seconds=%.3f eps=%.0f%n", total, secs, total / secs);
    }
  }

  static void size(String bootstrap, String topic) throws Exception {
    try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo i : c.partitionsFor(topic, Duration.ofSeconds(5)))
        tps.add(new TopicPartition(topic, i.partition()));
      Map<TopicPartition, Long> ends = c.endOffsets(tps);
      c.assign(tps);
      c.seekToBeginning(tps);
      long n = 0, kb = 0, vb = 0;
      while (true) {
        boolean done = true;
        for (TopicPartition tp : tps) if (c.position(tp) < ends.get(tp)) done = false;
        if (done) break;
        for (var r : c.poll(Duration.ofMillis(500))) {
          n++;
          if (r.key() != null) kb += r.key().length;
          if (r.value() != null) vb += r.value().length;
        }
      }
      System.out.println("records=" + n + " key_bytes=" + kb + " value_bytes=" + vb);
    }
  }

  public static void main(String[] a) throws Exception {
    switch (a[0]) {
      case "offsets" -> offsets(a[1]);
      case "track" -> track(a[1], a[2], a[3]);
      case "size" -> size(a[1], a[2]);
      case "gen" -> gen(a[1], a[2], a[3], a[4], a[5], Long.parseLong(a[6]), Integer.parseInt(a[7]),
          Double.parseDouble(a[8]), a[9]);
      default -> throw new IllegalArgumentException("unknown command " + a[0]);
    }
  }
}
