version 1.0

# Allocates (and touches) more memory than its first attempt asks for.
task allocate {
    input {
        Int mib = 1200
    }
    command <<<
        python3 -c "x = b'x' * (~{mib} << 20); print('allocated ~{mib} MiB')"
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
