"""The student at work: the fine-tuned model on the team's own hardware (``python -m pipeline.extract``).

- ``manifest``: what the student was trained on (render settings, image size, system prompt, tasks),
  written into the dataset's manifest by build_dataset and read back by extract.
- ``setup``: the manifest's settings with the user's overrides (each one warned about), tasks as trained.
- ``chat``: the training record's turns as an OpenAI chat request (evaluate --endpoint sends it too).
- ``locality``: the endpoint must be on this machine or its private network.
- ``teacher``: the student server as a teacher of the label engine (student prompt, same checks).
- ``run``: render -> ask -> per-document outputs, resumable.
"""
