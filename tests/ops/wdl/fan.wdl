version 1.0

workflow fan {
  input {
    Int n = 3
    Int fail_at = -1
    Int sleep_s = 0
    Int preemptible = 0
  }
  scatter (i in range(n)) {
    call work { input: i = i, fail_at = fail_at, sleep_s = sleep_s, preemptible = preemptible }
  }
  output {
    Array[Int] out = work.out
  }
}

task work {
  input {
    Int i
    Int fail_at
    Int sleep_s
    Int preemptible
  }
  command <<<
    sleep ~{sleep_s}
    if [ ~{i} -eq ~{fail_at} ]; then exit 3; fi
    echo ~{i}
  >>>
  output {
    Int out = read_int(stdout())
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 2
    memory: "2 GiB"
    preemptible: preemptible
  }
}
