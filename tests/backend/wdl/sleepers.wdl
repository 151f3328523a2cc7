version 1.0

# n tasks that sleep, to be interrupted by a signal mid-run.
workflow sleepers {
    input {
        Int n = 6
        Int seconds = 120
    }
    scatter (i in range(n)) {
        call nap { input: seconds = seconds, i = i }
    }
}

task nap {
    input {
        Int seconds
        Int i
    }
    command <<<
        echo "napping ~{i}"
        sleep ~{seconds}
    >>>
}
