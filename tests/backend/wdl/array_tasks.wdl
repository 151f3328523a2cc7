version 1.0

# A scatter of same-shaped tasks (one array job with [aws] array_jobs). Task `fail_index` fails
# its first attempt, and so does the array's child 0 with `fail_child0`; every task then naps
# `seconds`.
workflow array_tasks {
    input {
        Int n = 8
        Int fail_index = -1
        Int seconds = 0
        Int retries = 1
        Int preemptible = 0
        Boolean fail_child0 = false
    }
    scatter (i in range(n)) {
        call work {
            input: i = i, fail_index = fail_index, seconds = seconds, retries = retries,
                preemptible = preemptible, fail_child0 = fail_child0
        }
    }
    output {
        Array[String] said = work.said
    }
}

task work {
    input {
        Int i
        Int fail_index
        Int seconds
        Int retries
        Int preemptible
        Boolean fail_child0
    }
    command <<<
        if [ ~{i} = ~{fail_index} ] && [ "${MINIWDL_TASK_ATTEMPT}" = 1 ]; then
            echo "task ~{i} fails" >&2
            exit 3
        fi
        if ~{true="true" false="false" fail_child0} && [ "${AWS_BATCH_JOB_ARRAY_INDEX:-}" = 0 ]; then
            echo "child 0 fails" >&2
            exit 3
        fi
        sleep ~{seconds}
        echo "task ~{i} attempt ${MINIWDL_TASK_ATTEMPT} job ${AWS_BATCH_JOB_ID}"
    >>>
    output {
        String said = read_string(stdout())
    }
    runtime {
        docker: "ubuntu:22.04"
        cpu: 1
        memory: "512 MiB"
        maxRetries: retries
        preemptible: preemptible
    }
}
