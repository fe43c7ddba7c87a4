"""Dataset stage: valid labels -> document-level splits -> LLaMA-Factory ShareGPT files and YAMLs.
``build.write_dataset`` is the entry."""
