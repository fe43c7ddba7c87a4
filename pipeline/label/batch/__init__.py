"""Batch mode (``--batch`` / ``--collect``): the label stage through the providers' Batch APIs.
``run`` drives a run, ``submit`` and ``collect`` talk to the teacher's batch client, ``jobs`` holds the settings
and the summary (the jobs themselves are ``BatchJob`` records in the run store)."""
