version 1.0

# Resource, accelerator, timeout, queue and container-property requests of one task.
task shapes {
    input {
        String queue
    }
    command <<<
        echo "${MINIWDL_TASK_ATTEMPT}"
    >>>
    output {
        String out = read_string(stdout())
    }
    runtime {
        docker: "nvidia/cuda:12.2.0-base-ubuntu22.04"
        cpu: 3
        memory: "5 GiB"
        gpu: true
        acceleratorType: "nvidia-tesla-t4"
        acceleratorCount: 2
        maxTime: "2h"
        aws_queue: queue
        aws_container_properties: "{\"linuxParameters\": {\"sharedMemorySize\": 256}}"
    }
}
