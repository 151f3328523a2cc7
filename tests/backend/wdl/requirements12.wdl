version 1.2

# WDL 1.2: resources in a requirements section, and disks (read and reported, not applied).
workflow req12 {
    scatter (i in [1, 2]) {
        call sized { input: i = i }
    }
    output {
        Array[Int] attempts = sized.attempt
    }
}

task sized {
    input {
        Int i
    }
    command <<<
        echo "~{task.attempt}"
        if [ "~{task.attempt}" = "0" ] && [ "~{i}" = "1" ]; then exit 1; fi
    >>>
    output {
        Int attempt = read_int(stdout())
    }
    requirements {
        cpu: 2
        memory: "3 GiB"
        disks: "20 GiB"
        max_retries: 1
    }
}
