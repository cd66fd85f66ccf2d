"""The trainer's progress events, typed: what ``clode.training.train.train`` emits and the app's panel reads.

On the wire (``clode train --progress FILE|-``) each event is one JSON object per line with an
``"event"`` key naming its kind; ``to_dict`` gives that object and ``parse`` reads it back (an
unknown kind or a malformed line gives None, so a newer trainer or a library's stray output line
does not break a reader).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Optional, Union


@dataclass(frozen=True)
class TrainerEvent:
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict:
        return {"event": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> "TrainerEvent":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Data(TrainerEvent):
    """The photos were read: how many, and the files skipped with why ([[path, why], ...])."""
    kind: ClassVar[str] = "data"
    images: int                                   # photos read
    skipped: list = field(default_factory=list)
    held_out: int = 0                             # of them, kept out of training to validate on


@dataclass(frozen=True)
class Step(TrainerEvent):
    kind: ClassVar[str] = "step"
    step: int
    steps: int
    loss: float
    terms: dict = field(default_factory=dict)     # each loss term's value
    lr: float = 0.0
    elapsed: float = 0.0                          # seconds, this run's and any resumed run's
    eta: float = 0.0                              # seconds left at this pace


@dataclass(frozen=True)
class Checkpoint(TrainerEvent):
    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str                                     # the checkpoint folder
    model: str                                    # its model file


@dataclass(frozen=True)
class Validation(TrainerEvent):
    """Scores on the validation pairs (free-form: psnr, ssim, ...)."""
    kind: ClassVar[str] = "validation"
    scores: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"event": self.kind, **self.scores}

    @classmethod
    def from_dict(cls, data: dict) -> "Validation":
        return cls({k: v for k, v in data.items() if k != "event"})


@dataclass(frozen=True)
class Done(TrainerEvent):
    kind: ClassVar[str] = "done"
    model: str                                    # the saved model file
    steps: int
    seconds: float


@dataclass(frozen=True)
class Cancelled(TrainerEvent):
    kind: ClassVar[str] = "cancelled"
    step: int
    checkpoint: Optional[str] = None              # the checkpoint a resume continues from


KINDS: dict[str, type[TrainerEvent]] = {cls.kind: cls for cls in (Data, Step, Checkpoint, Validation, Done, Cancelled)}


def parse(line: Union[str, bytes, dict]) -> Optional[TrainerEvent]:
    """The event in one JSON line (or its dict), or None if it is not one."""
    data: Any = line
    if not isinstance(line, dict):
        try:
            data = json.loads(line)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    kind = data.get("event")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    try:
        return cls.from_dict(data)
    except TypeError:           # a required field is missing
        return None
