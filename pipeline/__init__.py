"""docdistill: distil a cloud vision-language teacher into a small local student for documents.

Stages, one module each, each runnable as ``python -m pipeline.<stage>``:
``distill`` (render + label), ``build_dataset`` (LLaMA-Factory data + YAML), ``evaluate``.
"""

__version__ = "0.1.0"
