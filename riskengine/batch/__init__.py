"""Batch re-rating (shell): the job, Spark, migrations, the decisions dataset."""
