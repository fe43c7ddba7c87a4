"""Batch mode (``--batch`` / ``--collect``): the label stage through the providers' Batch APIs.
``run`` drives a run, ``submit`` and ``collect`` talk to the provider's batch client, ``jobs`` holds the records."""
