"""The ``metadata`` task: what the page is, who issued it, and what a records clerk would note.

Every leaf is nullable or a list that may be empty: a teacher must be able to say "not on this
page" instead of inventing a value. Dates are ISO 8601 when the page gives a full date.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Category(str, Enum):
    FINANCIAL = "financial"
    LEGAL = "legal"
    GOVERNMENT = "government"
    CORRESPONDENCE = "correspondence"
    INSURANCE = "insurance"
    MEDICAL = "medical"
    ACADEMIC = "academic"
    TECHNICAL = "technical"
    COMMERCIAL = "commercial"
    PERSONAL = "personal"
    OTHER = "other"


class Classification(_Strict):
    document_type: str = Field(description="Specific type in lower case, e.g. invoice, bank statement, contract, "
                                           "court ruling, letter, report, form, receipt, certificate, law.")
    category: Category
    title: str | None = Field(None, description="The document's own title as printed, if any.")


class Source(_Strict):
    issuer: str | None = Field(None, description="Organisation that issued the document.")
    author: str | None = Field(None, description="Person who wrote or prepared it.")
    sender: str | None = None
    recipient: str | None = None


class DateKind(str, Enum):
    ISSUE = "issue"
    DUE = "due"
    EFFECTIVE = "effective"
    EXPIRY = "expiry"
    PUBLICATION = "publication"
    SIGNATURE = "signature"
    RECEIVED = "received"
    PERIOD_START = "period_start"
    PERIOD_END = "period_end"
    OTHER = "other"


class DatedEvent(_Strict):
    kind: DateKind
    value: str = Field(description="ISO 8601 (YYYY-MM-DD) when the full date is known, else as printed.")
    as_printed: str | None = Field(None, description="The date exactly as written on the page.")


class Orientation(str, Enum):
    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"


class ScanQuality(str, Enum):
    BORN_DIGITAL = "born_digital"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class ColorMode(str, Enum):
    COLOR = "color"
    GRAYSCALE = "grayscale"
    BLACK_AND_WHITE = "black_and_white"


class Handwriting(str, Enum):
    NONE = "none"
    SOME = "some"      # annotations, signatures
    MOSTLY = "mostly"


class Physical(_Strict):
    orientation: Orientation = Field(description="As the content reads, not as the file is stored.")
    scan_quality: ScanQuality
    color: ColorMode
    handwriting: Handwriting


class MarkKind(str, Enum):
    STAMP = "stamp"
    SEAL = "seal"
    LETTERHEAD = "letterhead"
    WATERMARK = "watermark"
    LOGO = "logo"
    EMBLEM = "emblem"
    BARCODE = "barcode"
    QR_CODE = "qr_code"


class OfficialMark(_Strict):
    kind: MarkKind
    text: str | None = Field(None, description="Legible words of the mark.")
    color: str | None = None


class Signature(_Strict):
    signer: str | None = Field(None, description="Name of the signer if printed or legible.")
    role: str | None = Field(None, description="Title or capacity, e.g. Branch Manager.")
    signed: bool = Field(description="True if a signature mark is present, false for an empty signature line.")
    date: str | None = None


class Routing(_Strict):
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    reference_numbers: list[str] = Field(default_factory=list,
                                         description="Invoice, file, case, account or letter reference numbers.")


class ConditionKind(str, Enum):
    DAMAGE = "damage"
    STAIN = "stain"
    REDACTION = "redaction"
    ILLEGIBLE = "illegible"
    MISSING_PART = "missing_part"
    ANNOTATION = "annotation"
    SKEW = "skew"
    OTHER = "other"


class ConditionNote(_Strict):
    kind: ConditionKind
    description: str


class Confidence(_Strict):
    overall: float = Field(ge=0, le=1, description="How sure you are of this metadata, 0 to 1.")
    notes: str | None = Field(None, description="What was hard to read or guessed.")


class MetadataLabel(_Strict):
    """Document-level facts a records system files the page under."""

    classification: Classification
    source: Source
    dates: list[DatedEvent]
    physical: Physical
    official_marks: list[OfficialMark]
    signatures: list[Signature]
    routing: Routing
    attachments: list[str] = Field(description="Attachments or enclosures the page mentions.")
    references: list[str] = Field(description="Other documents, laws or articles the page refers to.")
    condition_notes: list[ConditionNote]
    confidence: Confidence
