"""Culling marks of one photo: 0-5 stars, a pick/reject flag and a colour label, as in Lightroom and
darktable; and the filter that shows a folder's photos by them.

The marks live in the photo's sidecar (``clode.io.sidecar``) and are exchanged with other programs
through XMP (``clode.io.xmp``: ``xmp:Rating``, ``xmp:Label``, reject = rating -1). ``load`` and
``save`` do both: ``load`` takes the sidecar's marks unless an ``.xmp`` file changed them after it
(darktable or Lightroom rated the photo since), then the photo's own embedded XMP.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Union

PathLike = Union[str, Path]

PICK, REJECT = "pick", "reject"
FLAGS = (PICK, REJECT)
#: Colour labels in Lightroom's order (its keys 6-9 set the first four; purple has no key).
LABELS = ("red", "yellow", "green", "blue", "purple")
MAX_RATING = 5


@dataclass(frozen=True)
class Culling:
    rating: int = 0                 # 0-5 stars
    flag: Optional[str] = None      # PICK, REJECT or None
    label: Optional[str] = None     # one of LABELS or None

    @classmethod
    def from_mapping(cls, data: Any) -> "Culling":
        """The marks of a stored mapping; a value that is not usable takes its default (an old or
        damaged sidecar must still load)."""
        if not isinstance(data, Mapping):
            return cls()
        rating = data.get("rating", 0)
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not 0 <= rating <= MAX_RATING:
            rating = 0
        flag = data.get("flag")
        label = data.get("label")
        return cls(int(rating), flag if flag in FLAGS else None, label if label in LABELS else None)

    def to_dict(self) -> dict:
        return {"rating": self.rating, "flag": self.flag, "label": self.label}

    @property
    def is_default(self) -> bool:
        return self == Culling()

    def with_rating(self, stars: int) -> "Culling":
        return replace(self, rating=min(max(int(stars), 0), MAX_RATING))

    def with_flag(self, flag: Optional[str]) -> "Culling":
        return replace(self, flag=flag if flag in FLAGS else None)

    def with_label(self, label: Optional[str]) -> "Culling":
        return replace(self, label=label if label in LABELS else None)

    def describe(self) -> str:
        parts = ["★" * self.rating if self.rating else "no stars"]
        if self.flag:
            parts.append("picked" if self.flag == PICK else "rejected")
        if self.label:
            parts.append(self.label)
        return ", ".join(parts)


@dataclass(frozen=True)
class Filter:
    """Which photos a folder shows: at least ``min_rating`` stars, and by flag ("all", "picked",
    "unrejected", "rejected"), and by label (None: any)."""
    min_rating: int = 0
    flags: str = "all"
    label: Optional[str] = None

    FLAG_CHOICES = ("all", "picked", "unrejected", "rejected")

    @property
    def active(self) -> bool:
        return self != Filter()

    def accepts(self, c: Culling) -> bool:
        if c.rating < self.min_rating:
            return False
        if self.flags == "picked" and c.flag != PICK:
            return False
        if self.flags == "unrejected" and c.flag == REJECT:
            return False
        if self.flags == "rejected" and c.flag != REJECT:
            return False
        return self.label is None or c.label == self.label

    def describe(self) -> str:
        parts = []
        if self.flags != "all":
            parts.append({"picked": "picked", "unrejected": "not rejected", "rejected": "rejected"}[self.flags])
        if self.min_rating:
            parts.append(f"{self.min_rating}★ or more")
        if self.label:
            parts.append(self.label)
        return ", ".join(parts) or "all photos"
