version 1.0

# Two big tasks that cannot run at once on the emulator's 256-vCPU task queue (each fits the
# largest "optimal" instance, 192 vCPUs): the second waits RUNNABLE while the first runs, and
# writes to stderr for --verbose tailing.
workflow queueing {
    input {
        Int cpu = 150
    }
    call big as first { input: cpu = cpu, seconds = 2 }
    call big as second { input: cpu = cpu, seconds = 2 }
}

task big {
    input {
        Int cpu
        Int seconds
    }
    command <<<
        echo "line one to stderr" >&2
        sleep ~{seconds}
        echo "line two to stderr" >&2
    >>>
    runtime {
        cpu: cpu
    }
}
