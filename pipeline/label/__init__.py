"""Label stage: every rendered page x every task -> a teacher's checked, stored answer.
``stage.label_pages`` (online, through ``engine``) and ``batch.run.run_batch`` (Batch APIs) are the entries."""
