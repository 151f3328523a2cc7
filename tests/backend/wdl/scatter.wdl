version 1.0

# An n-way scatter of tiny tasks on one image.
workflow scatter_n {
    input {
        Int n = 50
    }
    scatter (i in range(n)) {
        call square { input: x = i }
    }
    output {
        Array[Int] squares = square.y
    }
}

task square {
    input {
        Int x
    }
    command <<<
        echo $(( ~{x} * ~{x} ))
    >>>
    output {
        Int y = read_int(stdout())
    }
    runtime {
        docker: "ubuntu:22.04"
        cpu: 1
        memory: "512 MiB"
    }
}
