version 1.0

# A small but realistic pipeline: five task types, files passed from task to task (and so through
# the shared filesystem), a scatter/gather, and values read back from files.
#   make_input -> split_shards -> scatter(count_shard) -> merge_counts -> report
#                                          \-> scatter(checksum_shard) ---------/
workflow realistic {
  input {
    Int lines = 2000
    Int shards = 8
  }
  call make_input { input: lines = lines }
  call split_shards { input: text = make_input.text, shards = shards }
  scatter (shard in split_shards.parts) {
    call count_shard { input: part = shard }
    call checksum_shard { input: part = shard }
  }
  call merge_counts { input: counts = count_shard.counts }
  call report {
    input:
      merged = merge_counts.merged,
      checksums = checksum_shard.sum,
      original = make_input.text
  }
  output {
    File summary = report.summary
    Int total_words = merge_counts.total
  }
}

task make_input {
  input {
    Int lines
  }
  command <<<
    set -e
    awk -v n=~{lines} 'BEGIN { for (i = 1; i <= n; i++) printf "line %d alpha beta gamma %d\n", i, i % 7 }' > text.txt
  >>>
  output {
    File text = "text.txt"
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}

task split_shards {
  input {
    File text
    Int shards
  }
  command <<<
    set -e
    total=$(wc -l < "~{text}")
    per=$(( (total + ~{shards} - 1) / ~{shards} ))
    split -l "$per" -d -a 3 "~{text}" part_
  >>>
  output {
    Array[File] parts = glob("part_*")
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}

task count_shard {
  input {
    File part
  }
  command <<<
    set -e
    tr -s ' ' '\n' < "~{part}" | sort | uniq -c | awk '{ print $2 "\t" $1 }' > counts.tsv
  >>>
  output {
    File counts = "counts.tsv"
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}

task checksum_shard {
  input {
    File part
  }
  command <<<
    set -e
    cksum < "~{part}" | cut -d ' ' -f 1
  >>>
  output {
    String sum = read_string(stdout())
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}

task merge_counts {
  input {
    Array[File] counts
  }
  command <<<
    set -e
    cat ~{sep=" " counts} | awk -F '\t' '{ c[$1] += $2 } END { for (w in c) print w "\t" c[w] }' | sort > merged.tsv
    awk -F '\t' '{ s += $2 } END { print s }' merged.tsv > total.txt
  >>>
  output {
    File merged = "merged.tsv"
    Int total = read_int("total.txt")
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}

task report {
  input {
    File merged
    Array[String] checksums
    File original
  }
  command <<<
    set -e
    {
      echo "lines: $(wc -l < "~{original}")"
      echo "distinct words: $(wc -l < "~{merged}")"
      echo "shard checksums: ~{sep=',' checksums}"
    } > summary.txt
  >>>
  output {
    File summary = "summary.txt"
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
  }
}
