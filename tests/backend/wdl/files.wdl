version 1.2

# Files and Directories in and out, across three tasks on the shared filesystem.
workflow files {
    input {
        File greeting
        Array[String] names = ["Alyssa", "Ben"]
    }
    scatter (name in names) {
        call greet { input: greeting = greeting, name = name }
    }
    call gather { input: cards = greet.card }
    call count { input: d = gather.deck }
    output {
        Array[File] cards = greet.card
        Directory deck = gather.deck
        Int n = count.n
        String env_check = count.env_check
    }
}

task greet {
    input {
        File greeting
        String name
    }
    command <<<
        set -euo pipefail
        echo "$(cat '~{greeting}'), ~{name}!" > card.txt
        echo "made card for ~{name}" >&2
    >>>
    output {
        File card = "card.txt"
    }
    runtime {
        docker: "ubuntu:22.04"
        cpu: 1
        memory: "1 GiB"
    }
}

task gather {
    input {
        Array[File] cards
    }
    command <<<
        set -euo pipefail
        mkdir deck
        i=0
        for f in ~{sep(" ", cards)}; do
            cp "$f" "deck/card$i.txt"
            i=$((i+1))
        done
    >>>
    output {
        Directory deck = "deck"
    }
    runtime {
        docker: "ubuntu:22.04"
    }
}

task count {
    input {
        Directory d
    }
    command <<<
        set -euo pipefail
        cat "~{d}"/*.txt | wc -l | tr -d ' ' > n.txt
        echo "${MINIWDL_TASK_RUN_ID}/${MINIWDL_TASK_ATTEMPT}/${MINIWDL_AWS_RUN_ID:+set}" > env.txt
    >>>
    output {
        Int n = read_int("n.txt")
        String env_check = read_string("env.txt")
    }
    runtime {
        docker: "ubuntu:22.04"
    }
}
