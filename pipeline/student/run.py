"""The extract stage: render with the student's settings, ask the student, write the outputs.

The same render stage and run store as distill (resumable: a rerun renders and sends only what is
missing), the same label engine and answer checks with the student as its teacher, then
``pipeline.dataset.export`` writes the per-document outputs into the run folder itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.dataset.export import FORMATS, ExportConfig, ExportSummary, export_run
from pipeline.label.answers import TRANSIENT
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, LabelSummary, label_pages, request_key
from pipeline.render.config import RenderRunConfig
from pipeline.records import PageStatus
from pipeline.render.stage import RenderSummary, render_folder
from pipeline.store import RunStore
from pipeline.student.locality import EndpointCheck
from pipeline.student.setup import StudentSetup
from pipeline.student.teacher import StudentTeacher

# What a plain rerun does about each kind of failure, and what else may help.
RETRY_ADVICE = {
    "transient": "sent again by a plain rerun",
    "not_answered": "asked by a plain rerun",
    "truncated": "--retry-failed asks again; a larger --max-tokens asks every page again (a new request)",
    "repetition_loop": "--retry-failed asks again; --temperature 0.3 may break the loop (asks every page again)",
    "invalid": "--retry-failed asks again; --guided (vLLM) constrains the answer to the schema",
    "malformed_json": "--retry-failed asks again; --guided (vLLM) constrains the answer to the schema",
    "render_failed": "cannot be asked: the page does not render (see the reason)",
    "document_skipped": "cannot be asked: the file was not opened (a password: --password or --passwords)",
}


@dataclass(frozen=True)
class ExtractConfig:
    render: RenderRunConfig
    label: LabelConfig
    setup: StudentSetup
    endpoint: EndpointCheck
    formats: tuple[str, ...] = FORMATS

    def export(self, store: RunStore, teacher: StudentTeacher) -> ExportConfig:
        """The outputs show this run's requests only: answers made with other settings, prompts or models
        (an earlier run into the same folder) stay in the store but are not mixed in."""
        keys = frozenset(request_key(page.image_sha256, task, teacher, self.label.anchor)
                         for page in store.iter_pages(PageStatus.RENDERED) for task in self.label.tasks)
        return ExportConfig(out_dir=self.render.run_dir, formats=self.formats,
                            tasks=tuple(t.name for t in self.label.tasks), teacher=teacher.name,
                            model=teacher.model, pdf_dir=self.render.pdf_dir, request_keys=keys)


@dataclass
class ExtractSummary:
    setup: StudentSetup
    endpoint: EndpointCheck
    render: RenderSummary | None = None
    label: LabelSummary | None = None
    outputs: ExportSummary | None = None

    def advice(self) -> dict[str, str]:
        """outcome -> what to do, for the failures the outputs hold."""
        outcomes = {o for counts in (self.outputs.outcomes.values() if self.outputs else []) for o in counts}
        out = {}
        for outcome in sorted(outcomes - {"ok"}):
            kind = "transient" if outcome in {t.value for t in TRANSIENT} else outcome
            out[outcome] = RETRY_ADVICE.get(kind, "--retry-failed asks again")
        return out

    def to_dict(self) -> dict:
        return {"student": self.setup.to_dict(), "endpoint": self.endpoint.to_dict(),
                "render": self.render.to_dict() if self.render else None,
                "label": self.label.to_dict() if self.label else None,
                "outputs": self.outputs.to_dict() if self.outputs else None, "advice": self.advice()}


def extract_folder(cfg: ExtractConfig, teacher: StudentTeacher, progress: bool = True) -> ExtractSummary:
    """Render, ask, write the outputs; only configuration errors and TeacherFatalError raise (the outputs
    are written first: they show whatever is stored)."""
    summary = ExtractSummary(setup=cfg.setup, endpoint=cfg.endpoint)
    with RunStore(cfg.render.run_dir) as store:
        summary.render = render_folder(cfg.render, store, progress=progress)
        try:
            with PageSources(cfg.render, store) as sources:
                summary.label = label_pages(sources, cfg.label, store, teacher, progress=progress)
        finally:
            summary.outputs = export_run(store, cfg.export(store, teacher))
    return summary
