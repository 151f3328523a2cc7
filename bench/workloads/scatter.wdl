version 1.0

# N no-op tasks in one scatter: measures pure per-task overhead (submit, poll, notice).
# With sleep_s > 0 each task sleeps that long, so many jobs are active at once.
workflow scatter_noop {
  input {
    Int n
    Int sleep_s = 0
  }
  scatter (i in range(n)) {
    call noop { input: i = i, sleep_s = sleep_s }
  }
  output {
    Array[Int] done = noop.out
  }
}

task noop {
  input {
    Int i
    Int sleep_s
  }
  command <<<
    sleep ~{sleep_s}
  >>>
  output {
    Int out = i
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}
