version 1.0

# Fails on its first attempt, succeeds on the second (maxRetries), each in its own work dir.
task flaky {
    command <<<
        set -euo pipefail
        touch "${TMPDIR}/scratch"  # with [file_io] mount_tmpdir: this attempt's own temp dir
        echo "attempt ${MINIWDL_TASK_ATTEMPT} in $(basename "$PWD") tmp $(basename "$(dirname "$TMPDIR")")" | tee attempt.txt
        if [ "${MINIWDL_TASK_ATTEMPT}" = "1" ]; then
            echo "first attempt fails" >&2
            exit 42
        fi
    >>>
    output {
        String said = read_string("attempt.txt")
    }
    runtime {
        maxRetries: 2
    }
}
