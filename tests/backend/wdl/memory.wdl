version 1.0

# A task whose first attempt(s) the test's fault spec kills for running out of memory.
task eat {
    input {
        Int retries = 1
        Float multiplier = 2
    }
    command <<<
        echo "attempt ${MINIWDL_TASK_ATTEMPT}"
        sleep 3
    >>>
    output {
        String said = read_string(stdout())
    }
    runtime {
        memory: "2 GiB"
        maxRetries: retries
        aws: object { memory_retry_multiplier: multiplier }
    }
}
