version 1.0

# A task on spot capacity that may be interrupted (the emulator injects the interruptions).
task spotty {
    input {
        Int preemptible = 2
    }
    command <<<
        echo "ran attempt ${MINIWDL_TASK_ATTEMPT}"
    >>>
    output {
        String out = read_string(stdout())
    }
    runtime {
        preemptible: preemptible
    }
}
