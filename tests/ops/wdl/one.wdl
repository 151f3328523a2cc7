version 1.0

task one {
  input {
    String who = "world"
  }
  command <<<
    echo "hello ~{who}"
  >>>
  output {
    String msg = read_string(stdout())
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1 GiB"
  }
}
