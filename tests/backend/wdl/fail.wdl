version 1.0

# One branch fails with exit code 3 while its sibling is long-running (fail-fast aborts it).
workflow fail {
    call ok
    call bad
    call slow
    output {
        String ok_out = ok.out
    }
}

task ok {
    command <<<
        echo fine
    >>>
    output {
        String out = read_string(stdout())
    }
}

task bad {
    command <<<
        echo "about to fail" >&2
        exit 3
    >>>
    runtime {
        docker: "ubuntu:22.04"
    }
}

task slow {
    command <<<
        sleep 60
    >>>
}
