"""The student server as a teacher of the label engine: same scheduler, retries, cache and checks.

What differs from the openai-compatible teacher: the request is the training record's (the student
prompt, the system prompt if the dataset had one, the image resized as build_dataset resized it; see
``pipeline.student.chat``); ``--guided`` asks for the task's schema; the HTTP client ignores proxy
variables (a page must not detour through a proxy off the machine); and before the first request the
server's model list is checked for ``--model``: ``llamafactory-cli api`` answers under any model name,
so only its ``API_MODEL_NAME`` ties the name (part of every cached answer's identity) to the model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import openai

from pipeline.dataset.lf_config import api_command
from pipeline.dataset.sharegpt import resized_copy
from pipeline.student.chat import guided_args, student_messages
from pipeline.student.setup import prompt_id
from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, Teacher, TeacherConfigError, TeacherFatalError, TeacherSettings
from pipeline.teachers.openai_chat import OpenAICompatibleTeacher



@dataclass(frozen=True)
class StudentInputs:
    system_prompt: str | None = None
    max_image_side: int | None = None     # resize as build_dataset --max-image-side did (None: as rendered)
    guided: bool = False


def student_image(image: bytes, mime: str, max_side: int | None) -> tuple[bytes, str]:
    """The page image as the student was trained on it: the rendered image itself, or with
    ``--max-image-side`` the resized JPEG copy build_dataset wrote (``resized_copy``, same bytes)."""
    if not max_side:
        return image, mime
    pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ValueError("the rendered page image cannot be decoded")
    return resized_copy(pixels, max_side, ".jpg"), "image/jpeg"   # dataset_image_path: resized copies are .jpg


class StudentTeacher(OpenAICompatibleTeacher):
    name = "student"
    default_model = ""
    is_cloud = False
    priced = False                # your own hardware: no price table, no --max-cost

    def __init__(self, settings: TeacherSettings, inputs: StudentInputs = StudentInputs()):
        if not settings.model:
            raise TeacherConfigError("extract needs --model: the name the student server serves (API_MODEL_NAME "
                                     "for llamafactory-cli api, --served-model-name for vLLM)")
        if not settings.base_url:
            raise TeacherConfigError("extract needs --endpoint, e.g. http://127.0.0.1:8000/v1")
        Teacher.__init__(self, settings)   # not OpenAITeacher's: this client is built without proxies
        self.inputs = inputs
        self._key = self.api_key()
        self._client = openai.OpenAI(api_key=self._key, base_url=settings.base_url, max_retries=0,
                                     timeout=settings.timeout_s,
                                     http_client=openai.DefaultHttpxClient(trust_env=False,
                                                                           timeout=settings.timeout_s))
        self._served_lock = threading.Lock()
        self._served: BaseException | bool = False   # True: checked; an exception: the check failed

    def prompt_for(self, task: Task, anchor_text: str | None = None) -> str:
        return task.student_prompt         # trained without a text-layer anchor

    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        self._check_served_model()
        return super().ask(page, task, prompt, temperature)

    def _send(self, page: PageInput, task: Task, prompt: str, temperature: float) -> Any:
        image, mime = student_image(page.image, page.mime_type, self.inputs.max_image_side)
        extra = guided_args(task) if self.inputs.guided else {}
        return self._client.chat.completions.with_raw_response.create(
            model=self.model, messages=student_messages(image, mime, prompt, self.inputs.system_prompt),
            temperature=temperature, max_tokens=self.settings.max_output_tokens, **extra)

    def _check_served_model(self) -> None:
        """Once, before the first request: is anything serving, and is it serving ``--model``?"""
        with self._served_lock:
            if self._served is False:
                try:
                    self._served = self._served_check() or True
                except TeacherFatalError as exc:
                    self._served = exc
            if isinstance(self._served, BaseException):
                raise self._served

    def _served_check(self) -> None:
        where = self.settings.base_url
        try:
            served = [m.id for m in self._client.models.list()]
        except openai.APIConnectionError as exc:      # a timeout too
            serve = api_command("DATASET_DIR/<name>_api.yaml", self.model)
            raise TeacherFatalError(f"nothing answers at {where} ({type(exc).__name__}): start the student "
                                    f"server first, e.g. {serve}") from None
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise TeacherFatalError(self._fatal_message(exc.status_code, f"({exc.status_code})")) from None
            return                                     # no model list here: the first answer will tell
        if self.model not in served:
            raise TeacherFatalError(
                f"the server at {where} serves {', '.join(map(repr, served)) or 'no model'}, not {self.model!r}: "
                f"start it with API_MODEL_NAME={self.model} (llamafactory-cli api) or --served-model-name "
                f"{self.model} (vLLM), or pass the name it serves as --model")

    def _fatal_message(self, code: int, said: str) -> str:
        where = self.settings.base_url
        if code in (401, 403):
            return (f"the student server at {where} rejected the API key {said}; set OPENAI_COMPATIBLE_API_KEY "
                    "to the key it expects (API_KEY of llamafactory-cli api, --api-key of vLLM)")
        if code == 404:
            return f"the server at {where} does not serve model {self.model!r} {said}; check --model and --endpoint"
        return f"the student server at {where} rejected the request for model {self.model!r} {said}"

    def generation_params(self) -> dict:
        return {"temperature": self.settings.temperature, "max_output_tokens": self.settings.max_output_tokens,
                "guided": self.inputs.guided, "max_image_side": self.inputs.max_image_side,
                "system_prompt": prompt_id(self.inputs.system_prompt)}
