package transit.peer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Transit's turnstile count, as a Kafka Streams application: the entries topic
 * ({@code <prefix>.turnstile.entries.v1}, key {@code StationKey}, value {@code TurnstileEvent},
 * both Avro in the Confluent wire format) counted by station and line with
 * {@code groupBy(...).count()} into a KTable, which goes to a compacted table topic keyed
 * {@code "station_id:line"} (a string) with the count as a long (Serdes.Long, 8 bytes big-endian).
 *
 * <p>Settings are flags ({@code --name value}); anything else Kafka Streams takes can be set with
 * {@code --set key=value} (repeatable). Defaults: {@code exactly_once_v2}, one stream thread,
 * Kafka Streams' own commit interval (100 ms under exactly-once) unless
 * {@code --commit-interval-ms} is given.
 *
 * <p>Runs until SIGTERM or SIGINT, then closes (committing what it processed) and exits 0; exits
 * 1 when the stream thread fails.
 */
public final class TurnstileCountStreams {
    /** The symbols of the {@code Line} enum in transit-core/schemas/turnstile.avsc, in order. */
    static final String[] LINES = {"blue", "red", "green"};

    private TurnstileCountStreams() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> flags = new LinkedHashMap<>();
        List<String> sets = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            if (!name.startsWith("--") || i + 1 >= args.length) {
                usage("expected --name value, got " + name);
            }
            String value = args[++i];
            if (name.equals("--set")) {
                sets.add(value);
            } else {
                flags.put(name.substring(2), value);
            }
        }
        String bootstrap = required(flags, "bootstrap");
        String entriesTopic = required(flags, "entries-topic");
        String countsTopic = required(flags, "counts-topic");
        String applicationId = required(flags, "application-id");

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
                flags.getOrDefault("guarantee", StreamsConfig.EXACTLY_ONCE_V2));
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, flags.getOrDefault("threads", "1"));
        if (flags.containsKey("state-dir")) {
            props.put(StreamsConfig.STATE_DIR_CONFIG, flags.get("state-dir"));
        }
        if (flags.containsKey("commit-interval-ms")) {
            props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, flags.get("commit-interval-ms"));
        }
        // An entry that does not decode is logged and skipped, as transit sends it to its
        // dead-letter topic and goes on; neither stops the count.
        props.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG,
                LogAndContinueExceptionHandler.class);
        for (String set : sets) {
            int eq = set.indexOf('=');
            if (eq <= 0) {
                usage("--set takes key=value, got " + set);
            }
            props.put(set.substring(0, eq), set.substring(eq + 1));
        }

        createTableTopic(bootstrap, countsTopic);
        Topology topology = topology(entriesTopic, countsTopic);
        System.out.println("topology: " + topology.describe());
        System.out.println("settings: " + props);

        KafkaStreams streams = new KafkaStreams(topology, props);
        CountDownLatch stopped = new CountDownLatch(1);
        int[] exit = {0};
        streams.setStateListener((now, before) -> {
            System.out.println("state: " + before + " -> " + now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(error -> {
            System.err.println("stream thread failed: " + error);
            error.printStackTrace();
            exit[0] = 1;
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Thread closer = new Thread(() -> {
            streams.close(Duration.ofSeconds(30));
            stopped.countDown();
        }, "close-on-signal");
        Runtime.getRuntime().addShutdownHook(closer);
        streams.start();
        stopped.await();
        if (exit[0] != 0) {
            Runtime.getRuntime().removeShutdownHook(closer);
            streams.close(Duration.ofSeconds(30));
            System.exit(exit[0]);
        }
    }

    /** entries -> (station_id:line, 1) -> count per key -> table topic. */
    static Topology topology(String entriesTopic, String countsTopic) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(entriesTopic, Consumed.with(Serdes.ByteArray(), STATION_LINE))
                .groupBy((stationKey, stationLine) -> stationLine,
                        Grouped.with("by-station-line", Serdes.String(), Serdes.String()))
                .count(Materialized.as("turnstile-counts"))
                .toStream()
                .to(countsTopic, Produced.with(Serdes.String(), Serdes.Long()));
        return builder.build();
    }

    /** The table topic: compacted, one partition, like transit's count table. */
    static void createTableTopic(String bootstrap, String topic)
            throws InterruptedException, ExecutionException {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(props)) {
            NewTopic table = new NewTopic(topic, 1, (short) -1)
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
            admin.createTopics(List.of(table)).all().get();
        } catch (ExecutionException error) {
            if (!(error.getCause() instanceof TopicExistsException)) {
                throw error;
            }
        }
    }

    /**
     * A turnstile entry's value, read as its grouping key {@code "station_id:line"}. The bytes are
     * the Confluent wire format: magic byte 0, a 4-byte schema id, then the Avro binary body of
     * {@code TurnstileEvent} {station_id: int, station_name: string, line: enum Line}. The body
     * is read by hand (zig-zag varints), as transit-core's codec/fast.rs reads it; the schema id
     * is not looked up (every entry of the topic has the one schema). Anything else throws, and
     * the deserialization handler skips the record.
     */
    static final class StationLineDeserializer implements Deserializer<String> {
        @Override
        public String deserialize(String topic, byte[] data) {
            if (data == null) {
                return null;
            }
            if (data.length < 8 || data[0] != 0) {
                throw new IllegalArgumentException("not a Confluent-framed Avro record ("
                        + data.length + " bytes, magic " + (data.length > 0 ? data[0] : -1) + ")");
            }
            Reader in = new Reader(data, 5);
            int stationId = (int) in.readLong();
            long nameLength = in.readLong();
            if (nameLength < 0 || in.pos + nameLength > data.length) {
                throw new IllegalArgumentException("station_name length " + nameLength + " out of range");
            }
            in.pos += (int) nameLength;
            long line = in.readLong();
            if (line < 0 || line >= LINES.length) {
                throw new IllegalArgumentException("line index " + line + " is not a Line symbol");
            }
            if (in.pos != data.length) {
                throw new IllegalArgumentException((data.length - in.pos) + " bytes after the TurnstileEvent");
            }
            return stationId + ":" + LINES[(int) line];
        }
    }

    /** Avro's zig-zag varints. */
    static final class Reader {
        final byte[] data;
        int pos;

        Reader(byte[] data, int pos) {
            this.data = data;
            this.pos = pos;
        }

        long readLong() {
            long raw = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= data.length) {
                    throw new IllegalArgumentException("a varint runs past the end of the record");
                }
                byte b = data[pos++];
                raw |= (long) (b & 0x7f) << shift;
                if ((b & 0x80) == 0) {
                    return (raw >>> 1) ^ -(raw & 1);
                }
            }
            throw new IllegalArgumentException("a varint longer than 10 bytes");
        }
    }

    /** Decodes only: the source never writes entries. */
    static final Serde<String> STATION_LINE = Serdes.serdeFrom(
            (Serializer<String>) (topic, value) -> {
                throw new UnsupportedOperationException("entries are read, not written");
            },
            new StationLineDeserializer());

    private static String required(Map<String, String> flags, String name) {
        String value = flags.get(name);
        if (value == null) {
            usage("--" + name + " is required");
        }
        return value;
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: TurnstileCountStreams --bootstrap HOST:PORT --entries-topic T"
                + " --counts-topic T --application-id ID [--state-dir DIR] [--commit-interval-ms MS]"
                + " [--guarantee exactly_once_v2|at_least_once] [--threads N] [--set key=value]...");
        System.exit(2);
    }
}
