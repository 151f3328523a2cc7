version 1.0
# Demo workflow for examples/demo.py: one task job per name (a scatter), each writing a file on
# the shared filesystem, then one more task job that reads them all and writes a summary.

workflow hello_scatter {
    input {
        Array[String] names
        String greeting = "Hello"
    }
    scatter (name in names) {
        call greet { input: name = name, greeting = greeting }
    }
    call summarize { input: greetings = greet.out }
    output {
        Array[File] greetings = greet.out
        File summary = summarize.summary
        Int lines = summarize.lines
    }
}

task greet {
    input {
        String name
        String greeting
    }
    command <<<
        set -euo pipefail
        echo "~{greeting}, ~{name}!" > "greeting_~{name}.txt"
        echo "greeted ~{name}" >&2
    >>>
    output {
        File out = "greeting_~{name}.txt"
    }
    runtime {
        docker: "public.ecr.aws/docker/library/ubuntu:22.04"
        cpu: 1
        memory: "1G"
    }
}

task summarize {
    input {
        Array[File] greetings
    }
    command <<<
        set -euo pipefail
        cat ~{sep=" " greetings} | sort > summary.txt
        wc -l < summary.txt | tr -d ' ' > lines.txt
    >>>
    output {
        File summary = "summary.txt"
        Int lines = read_int("lines.txt")
    }
    runtime {
        docker: "public.ecr.aws/docker/library/ubuntu:22.04"
        cpu: 1
        memory: "1G"
    }
}
