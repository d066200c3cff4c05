// The application of the real-JVM driver benchmark in `cargo xtask bench entrypoint`:
// writes the moment its main() starts to the file named by $XTASK_BENCH_STAMP and
// exits. System.nanoTime() is CLOCK_MONOTONIC on Linux, the clock the harness reads.
public final class BenchMain {
    public static void main(String[] args) throws Exception {
        long started = System.nanoTime();
        java.nio.file.Files.write(
            java.nio.file.Paths.get(System.getenv("XTASK_BENCH_STAMP")),
            (started + "\n").getBytes("UTF-8"));
        System.exit(0);
    }
}
