version 1.1

# Per-task AWS Batch settings through the runtime aws object (optional inputs left unset are
# not sent).
workflow settings {
    input {
        String? queue
        String? share
        Int? priority
        String? job_role
        String? props
        Map[String, Int]? consumables
        String memory = "1 GiB"
    }
    call one {
        input: queue = queue, share = share, priority = priority, job_role = job_role, memory = memory,
            props = props, consumables = consumables
    }
    output {
        String said = one.said
    }
}

task one {
    input {
        String? queue
        String? share
        Int? priority
        String? job_role
        String? props
        Map[String, Int]? consumables
        String memory
    }
    command <<<
        echo "ran"
    >>>
    output {
        String said = read_string(stdout())
    }
    runtime {
        memory: memory
        aws: object {
            queue: queue,
            share: share,
            priority: priority,
            job_role: job_role,
            container_properties: props,
            consumables: consumables,
            timeout: "2h"
        }
    }
}
