version 1.0

# Allocates (and touches) more memory than its first attempt asks for, and holds it for 2 s: the
# local AWS samples a job's memory every 0.25 s, so a shorter spike could escape its OOM kill.
task allocate {
    input {
        Int mib = 1200
    }
    command <<<
        python3 -c "import time; x = b'x' * (~{mib} << 20); time.sleep(2); print('allocated ~{mib} MiB')"
        echo "attempt ${MINIWDL_TASK_ATTEMPT}"
    >>>
    output {
        Array[String] said = read_lines(stdout())
    }
    runtime {
        memory: "1 GiB"
        maxRetries: 1
    }
}
