"""What labelling costs: image and prompt token estimates, and a user-editable price table.

Estimates are made BEFORE a request is sent (``--dry-run``, ``--max-cost``, ``--tpm``) from each
provider's published image rules (``Teacher.image_tokens``, in each teacher's module); the
provider's reported usage replaces them afterwards.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import ConfigError

DEFAULT_PRICES = Path(__file__).with_name("prices.yaml")
# Before any answer is back, assume this many output tokens per answer (a dense page's JSON).
DEFAULT_OUTPUT_TOKENS = 1000
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def text_tokens(text: str) -> int:
    """A cautious token count for prompt text: 4 ASCII characters or 1 other character per token.

    >>> text_tokens("abcdefgh")
    2
    >>> text_tokens("قانون")   # Arabic and other scripts cost more per character: counted high
    5
    """
    if text.isascii():
        return math.ceil(len(text) / 4)
    other = len(_NON_ASCII.findall(text))
    return math.ceil((len(text) - other) / 4) + other


@dataclass(frozen=True)
class Price:
    model: str
    input: float                   # USD per 1M input tokens
    output: float                  # USD per 1M output tokens
    source: str = ""
    as_of: str = ""
    image_base: int = 85           # OpenAI-style image token counts
    image_tile: int = 170
    cached_input: float | None = None        # USD per 1M input tokens served from the prompt cache (None: input)
    batch_cached_input: float | None = None  # the same inside a Batch job (None: the batch input rate)

    def cached_rate(self, discount: float = 1.0) -> float:
        """USD per 1M cached input tokens, online (``discount`` 1) or in a Batch job (the batch discount).

        >>> p = Price("m", input=2.5, output=10.0, cached_input=1.25)
        >>> p.cached_rate(), p.cached_rate(0.5), Price("g", 0.3, 2.5, cached_input=0.03, batch_cached_input=0.03).cached_rate(0.5)
        (1.25, 1.25, 0.03)
        """
        if discount == 1.0:
            return self.input if self.cached_input is None else self.cached_input
        return self.input * discount if self.batch_cached_input is None else self.batch_cached_input

    def cost(self, tokens_in: int, tokens_out: int, discount: float = 1.0, cached: int = 0) -> float:
        """USD for one request; ``tokens_in`` counts every input token, the ``cached`` ones among them too
        (as both APIs report usage); ``discount`` is the Batch rate (1: online).

        >>> p = Price("m", input=2.5, output=10.0, cached_input=1.25)
        >>> round(p.cost(1000, 500), 6), round(p.cost(1000, 500, cached=400), 6), round(p.cost(1000, 500, 0.5), 6)
        (0.0075, 0.007, 0.00375)
        """
        cached = max(0, min(cached, tokens_in))
        fresh = ((tokens_in - cached) * self.input + tokens_out * self.output) * discount
        return (fresh + cached * self.cached_rate(discount)) / 1e6


@dataclass
class PriceTable:
    prices: dict[str, Price] = field(default_factory=dict)
    batch_discount: float = 0.5
    path: Path | None = None

    def get(self, model: str) -> Price | None:
        """The model's price; a dated snapshot (gpt-4o-2024-08-06) falls back to its family (gpt-4o)."""
        if model in self.prices:
            return self.prices[model]
        family = [name for name in self.prices if model.startswith(name + "-")]
        return self.prices[max(family, key=len)] if family else None


def load_prices(path: Path | None = None) -> PriceTable:
    """Read a price YAML file (default: the one shipped with docdistill); bad files raise ConfigError."""
    path = Path(path) if path else DEFAULT_PRICES
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the price file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"the price file {path} is not valid YAML: {exc}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise ConfigError(f"the price file {path} needs a 'models:' map of model name -> input/output USD per 1M")
    table = PriceTable(batch_discount=float(data.get("batch_discount", 0.5)), path=path)
    for name, entry in models.items():
        try:
            image = entry.get("image_tokens") or {}
            cached = entry.get("cached_input")
            batch_cached = entry.get("batch_cached_input")
            table.prices[str(name)] = Price(str(name), float(entry["input"]), float(entry["output"]),
                                            str(entry.get("source", "")), str(entry.get("as_of", "")),
                                            int(image.get("base", 85)), int(image.get("tile", 170)),
                                            None if cached is None else float(cached),
                                            None if batch_cached is None else float(batch_cached))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ConfigError(f"the price file {path}: model {name!r} needs numeric 'input' and 'output' "
                              "(USD per 1M tokens; 'cached_input' and 'batch_cached_input' numeric too, "
                              "when given)") from None
    return table


class CostMeter:
    """Money spent so far and money committed to requests in flight, against ``--max-cost``.

    >>> meter = CostMeter(Price("m", input=1.0, output=2.0), max_cost=0.01)
    >>> est = meter.estimate(2000)            # 2000 in + 1000 out (no answer seen yet)
    >>> round(est, 6), meter.reserve(est), meter.reserve(est), meter.reserve(est)
    (0.004, True, True, False)
    >>> round(meter.settle(est, 2000, 500), 6), round(meter.spent, 6)
    (0.003, 0.003)
    """

    def __init__(self, price: Price | None, max_cost: float | None = None):
        self.price, self.max_cost = price, max_cost
        self.spent = 0.0
        self.in_flight = 0.0
        self._answers = 0
        self._tokens_out = 0

    def expected_output_tokens(self) -> int:
        """The mean reported output so far (DEFAULT_OUTPUT_TOKENS before the first answer)."""
        return round(self._tokens_out / self._answers) if self._answers else DEFAULT_OUTPUT_TOKENS

    def estimate(self, tokens_in: int) -> float:
        return self.price.cost(tokens_in, self.expected_output_tokens()) if self.price else 0.0

    def reserve(self, estimate: float) -> bool:
        """Commit ``estimate`` for a request about to be sent; False if it would break the budget."""
        if self.max_cost is not None and self.spent + self.in_flight + estimate > self.max_cost:
            return False
        self.in_flight += estimate
        return True

    def settle(self, estimate: float, tokens_in: int, tokens_out: int, cached: int = 0) -> float:
        """The request is back: its reported usage (``cached`` input tokens at the cached rate) replaces its
        estimate. Returns what it cost. (The estimate assumes no cache hit: a budget is never overrun by one.)"""
        self.in_flight = max(0.0, self.in_flight - estimate)
        cost = self.price.cost(tokens_in, tokens_out, cached=cached) if self.price else 0.0
        self.spent += cost
        if tokens_out:
            self._answers += 1
            self._tokens_out += tokens_out
        return cost
