"""``python -m pipeline.review RUN_DIR``: look at teacher labels beside their pages, fix them, sign them off.

A local web app (Starlette, served by uvicorn on 127.0.0.1 with a random token in its URL; plain
HTML and JS shipped in ``static/``, nothing fetched from elsewhere). ``queues`` orders the work,
``forms`` holds the task models (the same Pydantic models that validated the teachers' answers)
and the label diff, ``prefill`` asks an offline teacher or a local student for pages that were
never sent, ``app`` is the HTTP side and ``labelstudio`` the export/import for Label Studio.
Verdicts go to the run store (``pipeline.store.review``); build_dataset honours them.
"""
