version 1.0

# N no-op tasks in one scatter: measures pure per-task overhead (submit, poll, notice).
workflow scatter_noop {
  input {
    Int n
  }
  scatter (i in range(n)) {
    call noop { input: i = i }
  }
  output {
    Array[Int] done = noop.out
  }
}

task noop {
  input {
    Int i
  }
  command <<<
    true
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
