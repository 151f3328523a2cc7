version 1.0

# Six tasks on two images: two job definitions.
workflow images {
    scatter (i in range(3)) {
        call on_ubuntu { input: i = i }
        call on_debian { input: i = i }
    }
}

task on_ubuntu {
    input {
        Int i
    }
    command <<<
        echo ~{i}
    >>>
    runtime {
        docker: "ubuntu:22.04"
        cpu: i + 1
    }
}

task on_debian {
    input {
        Int i
    }
    command <<<
        echo ~{i}
    >>>
    runtime {
        docker: "debian:12"
        memory: "~{i + 1} GiB"
    }
}
