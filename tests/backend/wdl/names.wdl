version 1.0

# Scatter values and a long task name that are not valid Batch job names as they stand.
workflow names {
    scatter (who in ["Émile O'Brien", "a/b c:d", "x"]) {
        call a_task_with_a_really_quite_remarkably_long_name_that_goes_on_and_on_well_past_what_aws_batch_allows_for_job_names_in_total { input: who = who }
    }
}

task a_task_with_a_really_quite_remarkably_long_name_that_goes_on_and_on_well_past_what_aws_batch_allows_for_job_names_in_total {
    input {
        String who
    }
    command <<<
        echo "~{who}"
    >>>
}
