"""The student's request: the turns of its training records, as an OpenAI chat request.

build_dataset writes each record as ``[system]`` + human ``"<image>" + student prompt`` -> gpt answer.
An OpenAI-compatible server rebuilds the human turn from the message's content parts in order:
``llamafactory-cli api`` writes its ``<image>`` placeholder where the ``image_url`` part is, and vLLM's
chat template puts the image there. So the image part goes first, then the student prompt exactly
(no ``<image>`` tag in the text: the server adds it), and the system prompt, when the dataset had one,
is a leading system message (both servers fold it into the template's system slot).
"""

from __future__ import annotations

import base64

from pipeline.tasks import Task


def data_url(image: bytes, mime: str) -> str:
    """
    >>> data_url(b"\\xff\\xd8", "image/jpeg")
    'data:image/jpeg;base64,/9g='
    """
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def student_messages(image: bytes, mime: str, prompt: str, system: str | None = None) -> list[dict]:
    """The chat messages of one page under one task, in the training records' shape.

    >>> [m["role"] for m in student_messages(b"x", "image/png", "Read it.", "You read documents.")]
    ['system', 'user']
    >>> [p["type"] for p in student_messages(b"x", "image/png", "Read it.")[0]["content"]]
    ['image_url', 'text']
    """
    user = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(image, mime)}},
                                        {"type": "text", "text": prompt}]}
    return ([{"role": "system", "content": system}] if system else []) + [user]


def guided_args(task: Task | None) -> dict:
    """Schema-constrained decoding, both ways servers understand it: ``response_format`` json_schema
    (OpenAI; ``llamafactory-cli api`` 0.9.5 accepts the field and ignores it) and vLLM's
    ``structured_outputs`` (sent in the body through the SDK's ``extra_body``)."""
    if task is None:
        return {}
    schema = task.schema_json
    return {"response_format": {"type": "json_schema", "json_schema": {"name": task.name[:64], "schema": schema}},
            "extra_body": {"structured_outputs": {"json": schema}}}
