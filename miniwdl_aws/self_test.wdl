version 1.0
# Built-in workflow of `miniwdl_submit_awsbatch --self-test`: a scatter of task jobs that write
# files to the shared filesystem, gathered by one more task. Needs no internet access for inputs.

workflow self_test {
    input {
        Array[String] names
    }
    scatter (name in names) {
        call greet { input: name = name }
    }
    call gather { input: greetings = greet.greeting }
    output {
        Array[File] greetings = greet.greeting
        File summary = gather.summary
        Int count = gather.count
    }
}

task greet {
    input {
        String name
    }
    command <<<
        echo "Hello, ~{name}!" > greeting.txt
    >>>
    output {
        File greeting = "greeting.txt"
    }
    runtime {
        docker: "public.ecr.aws/docker/library/ubuntu:22.04"
        cpu: 1
        memory: "1G"
    }
}

task gather {
    input {
        Array[File] greetings
    }
    command <<<
        cat ~{sep=" " greetings} > summary.txt
        wc -l < summary.txt | tr -d ' ' > count.txt
    >>>
    output {
        File summary = "summary.txt"
        Int count = read_int("count.txt")
    }
    runtime {
        docker: "public.ecr.aws/docker/library/ubuntu:22.04"
        cpu: 1
        memory: "1G"
    }
}
